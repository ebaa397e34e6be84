"""GhostNetV3 and its 32x32 CIFAR variant GhostNetV3-Small."""
from mmghost.families import GHOSTNETV3, GHOSTNETV3_SMALL
from mmghost.registry import MODELS
from ..layers import RepModuleMixin
from .base_ghostnet import BaseGhostNet

__all__ = ['GhostNetV3', 'GhostNetV3Small']


@MODELS.register_module()
class GhostNetV3(RepModuleMixin, BaseGhostNet):
    """GhostNetV3 backbone (`GhostNetV3: Exploring the Training Strategies for Compact Models
    <https://arxiv.org/abs/2404.11202>`_).

    GhostNetV2's topology trained with re-parameterizable branches: each 1x1 primary conv and
    each cheap 3x3 depth-wise conv of the Ghost modules, and the stride-2 depth-wise convs,
    are ``num_conv_branches`` parallel conv-BN branches plus (``dw_scale``) a 1x1 depth-wise
    branch and BN identity branches. :meth:`switch_to_deploy` fuses them into single convs
    with bias, which gives exactly GhostNetV2's topology (8,129,028 -> 6,147,588 parameters
    for the 1.0x ImageNet classifier).

    Args:
        num_conv_branches (int): Parallel conv-BN branches (``N`` in the paper, §4.1).
            Defaults to 3.
        dw_scale (bool): Add the 1x1 depth-wise branch to the depth-wise convs. Defaults to
            True.
        deploy (bool): Build the fused (inference) form directly; it loads the state_dict
            of a switched model strictly. Defaults to False.
        Other args: see :class:`BaseGhostNet`.
    """

    family = GHOSTNETV3
    ghost_cfg = dict(type='GhostModuleV3', num_conv_branches=3, dw_scale=True)
    dw_cfg = dict(num_conv_branches=3, dw_scale=True)


@MODELS.register_module()
class GhostNetV3Small(GhostNetV3):
    """GhostNetV3-Small for 32x32 inputs (`arXiv:2509.12380
    <https://arxiv.org/abs/2509.12380>`_).

    GhostNetV3 with a stride-1 stem and a shallower table of 10 bottlenecks in 7 stages, all
    3x3, two of them stride 2 (output stride 4: an 8x8 final map at 32x32). ``out_indices``
    index 8 stages, 7 being the final 1x1 ConvBnAct (``160 * widen_factor`` channels). The
    paper's model is ``widen_factor=2.8`` (the default; 2,426,850 parameters with a 10-class
    head).

    In this variant ghost1 often has as many input channels as intrinsic channels, so the
    primary conv gets a BN identity branch; it is fused as a 1x1 identity matrix (the
    reference code's fusion of it crashes). Arguments as in :class:`GhostNetV3`
    (``arch='cifar'``).
    """

    family = GHOSTNETV3_SMALL
