"""GhostNet (V1) and GhostNetV2 backbones."""
from mmghost.families import GHOSTNET, GHOSTNETV2
from mmghost.registry import MODELS
from .base_ghostnet import BaseGhostNet

__all__ = ['GhostNet', 'GhostNetV2']


@MODELS.register_module()
class GhostNet(BaseGhostNet):
    """GhostNet V1 backbone (`GhostNet: More Features from Cheap Operations
    <https://arxiv.org/abs/1911.11907>`_).

    A stride-2 stem, 16 Ghost bottlenecks in 9 stages (``blocks.0-8``) and the final 1x1
    ConvBnAct (``blocks.9``, ``960 * widen_factor`` channels). ``out_indices`` index the 10
    stages; at 224x224 their strides are 2, 4, 4, 8, 8, 16, 16, 32, 32, 32.

    Args:
        arch (str | list): ``'imagenet'`` (the paper's table) or a custom stage table of
            ``[kernel, mid, out, se_ratio, stride]`` rows. Defaults to ``'imagenet'``.
        widen_factor (float): Width multiplier (the paper uses 0.5-2.0). Defaults to 1.0.
        out_indices (Sequence[int]): Output stages. Defaults to ``(9, )``.
        Other args: see :class:`BaseGhostNet` (no ``deploy``: nothing to re-parameterize).
    """

    family = GHOSTNET
    ghost_cfg = dict(type='GhostModule')


@MODELS.register_module()
class GhostNetV2(BaseGhostNet):
    """GhostNetV2 backbone (`GhostNetV2: Enhance Cheap Operation with Long-Range Attention
    <https://arxiv.org/abs/2211.12905>`_).

    GhostNet V1's layout with DFC attention gating ghost1 of every bottleneck after the first
    two (``layer_id > 1``, as in the reference). The gate works for any input size, including
    maps smaller than 2 px. Arguments as in :class:`GhostNet`.
    """

    family = GHOSTNETV2
    ghost_cfg = dict(type='GhostModuleV2')
