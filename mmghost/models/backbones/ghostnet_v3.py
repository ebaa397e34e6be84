"""GhostNetV3 and its 32x32 CIFAR variant GhostNetV3-Small."""
from typing import List, Optional, Sequence, Union

from mmghost.registry import MODELS
from ..layers import RepModuleMixin
from .base_ghostnet import GHOSTNET_BLOCKS, GHOSTNETV3_SMALL_BLOCKS, BaseGhostNet
from .ghostnet import _DEFAULT_INIT

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
        Other args: see :class:`GhostNet`.
    """

    arch_settings = {'imagenet': dict(blocks=GHOSTNET_BLOCKS, final_expand=1)}
    version = 'v3'

    def __init__(self,
                 arch: Union[str, List] = 'imagenet',
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (9, ),
                 frozen_stages: int = -1,
                 num_conv_branches: int = 3,
                 dw_scale: bool = True,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = _DEFAULT_INIT):
        if isinstance(num_conv_branches, bool) or not isinstance(num_conv_branches, int) \
                or num_conv_branches < 1:
            raise ValueError(f'num_conv_branches must be an int >= 1, got '
                             f'{num_conv_branches!r}')
        self.num_conv_branches = num_conv_branches
        self.dw_scale = dw_scale
        super().__init__(arch, widen_factor, out_indices, frozen_stages, norm_cfg, act_cfg,
                         norm_eval, with_cp, deploy=deploy, init_cfg=init_cfg,
                         num_conv_branches=num_conv_branches, dw_scale=dw_scale)

    def use_dfc(self, layer_id: int) -> bool:
        return layer_id > 1


@MODELS.register_module()
class GhostNetV3Small(GhostNetV3):
    """GhostNetV3-Small for 32x32 inputs (`arXiv:2509.12380
    <https://arxiv.org/abs/2509.12380>`_).

    GhostNetV3 with a stride-1 stem and a shallower table of 11 bottlenecks in 7 stages, all
    3x3, two of them stride 2 (output stride 4: an 8x8 final map at 32x32). ``out_indices``
    index 8 stages, 7 being the final 1x1 ConvBnAct (``160 * widen_factor`` channels). The
    paper's model is ``widen_factor=2.8`` (2,426,850 parameters with a 10-class head).

    In this variant ghost1 often has as many input channels as intrinsic channels, so the
    primary conv gets a BN identity branch; it is fused as a 1x1 identity matrix (the
    reference code's fusion of it crashes). Arguments as in :class:`GhostNetV3`.
    """

    arch_settings = {'cifar': dict(blocks=GHOSTNETV3_SMALL_BLOCKS, final_expand=1)}
    stem_stride = 1

    def __init__(self,
                 arch: Union[str, List] = 'cifar',
                 widen_factor: float = 2.8,
                 out_indices: Sequence[int] = (7, ),
                 **kwargs):
        super().__init__(arch, widen_factor, out_indices, **kwargs)
