"""Building blocks: Ghost modules, the Ghost bottleneck and the re-parameterization math."""
from .ghost_bottleneck import GhostBottleneck, SqueezeExcite
from .ghost_module import (ConvBN, GhostModule, GhostModuleV2, GhostModuleV3, RepGhostModule,
                           build_dfc, dfc_gate)
from .reparam import (RepModuleMixin, check_num_branches, fuse_branches, fuse_conv_bn,
                      identity_kernel, is_deployed, pad_kernel, pending_reparam_modules,
                      switch_to_deploy)

__all__ = [
    'GhostBottleneck', 'SqueezeExcite', 'ConvBN', 'GhostModule', 'GhostModuleV2',
    'GhostModuleV3', 'RepGhostModule', 'build_dfc', 'dfc_gate', 'RepModuleMixin',
    'check_num_branches', 'fuse_branches', 'fuse_conv_bn', 'identity_kernel', 'is_deployed',
    'pad_kernel', 'pending_reparam_modules', 'switch_to_deploy'
]
