"""The Ghost bottleneck shared by every GhostNet variant, and its squeeze-excite block."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmghost.registry import MODELS
from .ghost_module import ConvBN, GhostModule, GhostModuleV2, GhostModuleV3, RepGhostModule
from .reparam import RepModuleMixin, conv_from_fused, fuse_branches, rep_branches

__all__ = ['make_divisible', 'SqueezeExcite', 'GhostBottleneck', 'GHOST_VERSIONS']

GHOST_VERSIONS = ('v1', 'v2', 'v3', 'rep')


def make_divisible(value: float, divisor: int = 4, min_value: Optional[int] = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% below ``value``.

    The channel rounding of every GhostNet reference (divisor 4 everywhere).
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


@MODELS.register_module()
class SqueezeExcite(BaseModule):
    """Squeeze-and-excitation with a hard-sigmoid gate, as in the GhostNet references.

    ``x * hard_sigmoid(conv_expand(relu(conv_reduce(mean(x)))))``; both 1x1 convs have a bias
    and the reduced width is ``make_divisible(in_channels * se_ratio, 4)``.
    """

    def __init__(self, in_channels: int, se_ratio: float = 0.25, divisor: int = 4,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        reduced = make_divisible(in_channels * se_ratio, divisor)
        self.conv_reduce = nn.Conv2d(in_channels, reduced, 1, bias=True)
        self.act1 = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(reduced, in_channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        # Global average pooling rather than mean(): the same numbers, but ONNX Runtime keeps
        # GlobalAveragePool in its blocked layout (ReduceMean forces two layout reorders).
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.conv_expand(self.act1(self.conv_reduce(s)))
        return x * F.hardsigmoid(s)


@MODELS.register_module()
class GhostBottleneck(RepModuleMixin, BaseModule):
    """Ghost bottleneck: ghost1 (expand) -> [DW kxk stride s] -> [SE] -> ghost2 + shortcut.

    One class serves the family; ``version`` picks the Ghost module and the DW conv:

    ============  ======================  ============================  ====================
    version       ghost1                  stride-2 DW conv              ghost2
    ============  ======================  ============================  ====================
    ``'v1'``      GhostModule (ReLU)      conv + BN                     GhostModule (linear)
    ``'v2'``      GhostModuleV2 (+DFC)    conv + BN                     GhostModule (linear)
    ``'v3'``      GhostModuleV3 (+DFC)    re-param branches -> conv     GhostModuleV3
    ``'rep'``     RepGhostModule          conv + BN                     RepGhostModule
    ============  ======================  ============================  ====================

    The shortcut is the identity when ``in == out`` at stride 1, otherwise a DW ``kxk`` conv
    (block stride) + BN + 1x1 conv + BN. There is no activation after the addition.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expanded channels.
        out_channels (int): Output channels.
        kernel_size (int): DW kernel size (3 or 5 in the papers). Defaults to 3.
        stride (int): Block stride. Defaults to 1.
        se_ratio (float): SE reduction ratio; 0 disables SE. Defaults to 0.
        version (str): One of ``'v1'``, ``'v2'``, ``'v3'``, ``'rep'``. Defaults to ``'v1'``.
        use_dfc (bool): DFC attention on ghost1 (``'v2'``/``'v3'``). Defaults to False.
        num_conv_branches (int): Re-param branches (``'v3'``). Defaults to 3.
        dw_scale (bool): 1x1 depth-wise scale branches (``'v3'``). Defaults to True.
        reparam_bn (bool): BN identity branch of RepGhost modules (``'rep'``). Defaults to True.
        reparam_identity (bool): Plain identity branch of RepGhost modules. Defaults to False.
        deploy (bool): Build re-parameterizable parts fused. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of ghost1. Defaults to ``dict(type='ReLU')``.
        with_cp (bool): Gradient checkpointing of the block. Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 se_ratio: float = 0.,
                 version: str = 'v1',
                 use_dfc: bool = False,
                 num_conv_branches: int = 3,
                 dw_scale: bool = True,
                 reparam_bn: bool = True,
                 reparam_identity: bool = False,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if version not in GHOST_VERSIONS:
            raise ValueError(f'version must be one of {GHOST_VERSIONS}, got {version!r}')
        if use_dfc and version not in ('v2', 'v3'):
            raise ValueError(f'DFC attention exists in GhostNet v2/v3, not {version!r}')
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        self.in_channels = in_channels
        self.mid_channels = mid_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.version = version
        self.with_cp = with_cp
        # Only v3 and rep blocks have branches to fuse; the others are always "deployed".
        self.deploy = deploy or version in ('v1', 'v2')
        self.rep_dw = version == 'v3' and stride > 1
        pad = (kernel_size - 1) // 2

        ghost_kwargs = dict(num_conv_branches=num_conv_branches, dw_scale=dw_scale,
                            reparam_bn=reparam_bn, reparam_identity=reparam_identity,
                            norm_cfg=norm_cfg)
        self.ghost1 = self._ghost(in_channels, mid_channels, act_cfg, use_dfc, **ghost_kwargs)
        if stride > 1:
            if self.rep_dw and not self.deploy:
                self.dw_rpr_conv = nn.ModuleList(
                    ConvBN(mid_channels, mid_channels, kernel_size, stride, pad,
                           groups=mid_channels, norm_cfg=norm_cfg)
                    for _ in range(num_conv_branches))
                self.dw_rpr_scale = ConvBN(mid_channels, mid_channels, 1, stride, 0,
                                           groups=mid_channels,
                                           norm_cfg=norm_cfg) if dw_scale else None
            else:
                self.conv_dw = nn.Conv2d(mid_channels, mid_channels, kernel_size, stride, pad,
                                         groups=mid_channels, bias=self.rep_dw)
                if not self.rep_dw:
                    self.bn_dw = build_norm_layer(norm_cfg, mid_channels)[1]

        self.se = SqueezeExcite(mid_channels, se_ratio) if se_ratio and se_ratio > 0 else None

        self.ghost2 = self._ghost(mid_channels, out_channels, None, False, **ghost_kwargs)

        if in_channels == out_channels and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, kernel_size, stride, pad,
                          groups=in_channels, bias=False),
                build_norm_layer(norm_cfg, in_channels)[1],
                nn.Conv2d(in_channels, out_channels, 1, 1, 0, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1],
            )

    def _ghost(self, in_channels: int, out_channels: int, act_cfg: Optional[dict],
               use_dfc: bool, num_conv_branches: int, dw_scale: bool, reparam_bn: bool,
               reparam_identity: bool, norm_cfg: dict) -> nn.Module:
        """The Ghost module of this block's version (ghost2 is linear and never has DFC)."""
        if self.version == 'v1' or (self.version == 'v2' and not use_dfc):
            return GhostModule(in_channels, out_channels, norm_cfg=norm_cfg, act_cfg=act_cfg)
        if self.version == 'v2':
            return GhostModuleV2(in_channels, out_channels, use_dfc=True, norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        if self.version == 'v3':
            return GhostModuleV3(in_channels, out_channels, use_dfc=use_dfc,
                                 num_conv_branches=num_conv_branches, dw_scale=dw_scale,
                                 deploy=self.deploy, norm_cfg=norm_cfg, act_cfg=act_cfg)
        return RepGhostModule(in_channels, out_channels, reparam_bn=reparam_bn,
                              reparam_identity=reparam_identity, deploy=self.deploy,
                              norm_cfg=norm_cfg, act_cfg=act_cfg)

    def _dw(self, x: Tensor) -> Tensor:
        if self.rep_dw and not self.deploy:
            out = self.dw_rpr_scale(x) if self.dw_rpr_scale is not None else None
            for conv in self.dw_rpr_conv:
                out = conv(x) if out is None else out + conv(x)
            return out
        x = self.conv_dw(x)
        return x if self.rep_dw else self.bn_dw(x)

    def forward(self, x: Tensor) -> Tensor:

        def _inner_forward(x):
            out = self.ghost1(x)
            if self.stride > 1:
                out = self._dw(out)
            if self.se is not None:
                out = self.se(out)
            out = self.ghost2(out)
            return out + self.shortcut(x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)

    def _fuse(self) -> None:
        """Fuse the stride-2 DW branches (V3); Ghost modules fuse themselves."""
        if not self.rep_dw:
            return
        branches = rep_branches(self.dw_rpr_conv, self.dw_rpr_scale)
        mid = self.mid_channels
        w, b = fuse_branches(branches, self.kernel_size, mid, mid, groups=mid)
        self.conv_dw = conv_from_fused(w, b, self.stride, (self.kernel_size - 1) // 2,
                                       groups=mid)
        del self.dw_rpr_conv
        del self.dw_rpr_scale
