from .ghost_bottleneck import GHOST_VERSIONS, GhostBottleneck, SqueezeExcite, make_divisible
from .ghost_module import (ConvBN, GhostModule, GhostModuleV2, GhostModuleV3, RepGhostModule,
                           build_dfc, dfc_gate)
from .reparam import (RepModuleMixin, fuse_branches, fuse_conv_bn, identity_kernel,
                      is_deployed, pad_kernel, switch_to_deploy)

__all__ = [
    'GHOST_VERSIONS', 'GhostBottleneck', 'SqueezeExcite', 'make_divisible', 'ConvBN',
    'GhostModule', 'GhostModuleV2', 'GhostModuleV3', 'RepGhostModule', 'build_dfc', 'dfc_gate',
    'RepModuleMixin', 'fuse_branches', 'fuse_conv_bn', 'identity_kernel', 'is_deployed',
    'pad_kernel', 'switch_to_deploy'
]
