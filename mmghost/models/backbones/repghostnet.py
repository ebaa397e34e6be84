"""RepGhostNet backbone."""
from typing import List, Optional, Sequence, Union

from mmghost.registry import MODELS
from ..layers import RepModuleMixin
from .base_ghostnet import REPGHOST_BLOCKS, BaseGhostNet
from .ghostnet import _DEFAULT_INIT

__all__ = ['RepGhostNet']


@MODELS.register_module()
class RepGhostNet(RepModuleMixin, BaseGhostNet):
    """RepGhostNet backbone (`RepGhost: A Hardware-Efficient Ghost Module via
    Re-parameterization <https://arxiv.org/abs/2211.06088>`_).

    GhostNet's layout with :class:`~mmghost.models.layers.RepGhostModule`: feature reuse by a
    BN identity branch added (not concatenated) and fused into the cheap depth-wise conv by
    :meth:`switch_to_deploy` (4,073,604 -> 4,058,772 parameters for the 1.0x classifier).
    The released widths are 0.5, 0.58, 0.8, 1.0, 1.11, 1.3, 1.5 and 2.0.

    Args:
        reparam_bn (bool): BN identity branch (all released models). Defaults to True.
        reparam_identity (bool): Plain identity branch (paper ablation). Defaults to False.
        deploy (bool): Build the fused form directly. Defaults to False.
        Other args: see :class:`~mmghost.models.GhostNet`.
    """

    arch_settings = {'imagenet': dict(blocks=REPGHOST_BLOCKS, final_expand=2)}
    version = 'rep'

    def __init__(self,
                 arch: Union[str, List] = 'imagenet',
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (9, ),
                 frozen_stages: int = -1,
                 reparam_bn: bool = True,
                 reparam_identity: bool = False,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = _DEFAULT_INIT):
        super().__init__(arch, widen_factor, out_indices, frozen_stages, norm_cfg, act_cfg,
                         norm_eval, with_cp, deploy=deploy, init_cfg=init_cfg,
                         reparam_bn=reparam_bn, reparam_identity=reparam_identity)
