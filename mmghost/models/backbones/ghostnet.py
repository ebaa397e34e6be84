"""GhostNet (V1) and GhostNetV2 backbones."""
from typing import List, Optional, Sequence, Union

from mmghost.registry import MODELS
from .base_ghostnet import GHOSTNET_BLOCKS, BaseGhostNet

__all__ = ['GhostNet', 'GhostNetV2']

_DEFAULT_INIT = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


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
        frozen_stages (int): Freeze the stem and the first ``frozen_stages`` stages; -1 none.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per bottleneck. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    arch_settings = {'imagenet': dict(blocks=GHOSTNET_BLOCKS, final_expand=1)}
    version = 'v1'

    def __init__(self,
                 arch: Union[str, List] = 'imagenet',
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (9, ),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = _DEFAULT_INIT):
        super().__init__(arch, widen_factor, out_indices, frozen_stages, norm_cfg, act_cfg,
                         norm_eval, with_cp, init_cfg=init_cfg)


@MODELS.register_module()
class GhostNetV2(GhostNet):
    """GhostNetV2 backbone (`GhostNetV2: Enhance Cheap Operation with Long-Range Attention
    <https://arxiv.org/abs/2211.12905>`_).

    GhostNet V1's layout with DFC attention gating ghost1 of every bottleneck after the first
    two (``layer_id > 1``, as in the reference). The gate works for any input size, including
    maps smaller than 2 px. Arguments as in :class:`GhostNet`.
    """

    version = 'v2'

    def use_dfc(self, layer_id: int) -> bool:
        return layer_id > 1
