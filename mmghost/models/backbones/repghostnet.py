"""RepGhostNet backbone."""
from mmghost.families import REPGHOSTNET
from mmghost.registry import MODELS
from ..layers import RepModuleMixin
from .base_ghostnet import BaseGhostNet

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
        Other args: see :class:`BaseGhostNet`.
    """

    family = REPGHOSTNET
    ghost_cfg = dict(type='RepGhostModule', reparam_bn=True, reparam_identity=False)
