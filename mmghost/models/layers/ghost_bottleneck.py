"""The Ghost bottleneck shared by every GhostNet family, and its squeeze-excite block."""
import inspect
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmghost.families import make_divisible
from mmghost.registry import MODELS
from .ghost_module import ConvBN
from .reparam import (RepModuleMixin, check_num_branches, conv_from_fused, fuse_branches,
                      rep_branches)

__all__ = ['SqueezeExcite', 'GhostBottleneck']


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


def _ghost_class(ghost_cfg: dict) -> type:
    t = ghost_cfg.get('type')
    if isinstance(t, type):
        return t
    with MODELS.switch_scope_and_registry('mmghost') as registry:
        cls = registry.get(t)
    if cls is None:
        raise ValueError(f'ghost_cfg type {t!r} is not a registered module')
    return cls


@MODELS.register_module()
class GhostBottleneck(RepModuleMixin, BaseModule):
    """Ghost bottleneck: ghost1 (expand) -> [DW kxk stride s] -> [SE] -> ghost2 + shortcut.

    One class serves the family; what differs between the papers is configured:

    ===============  =============================================  ======================
    family           ``ghost_cfg``                                  ``dw_cfg``
    ===============  =============================================  ======================
    GhostNet         ``dict(type='GhostModule')``                   None (conv + BN)
    GhostNetV2       ``dict(type='GhostModuleV2')``, DFC on ghost1  None
    GhostNetV3       ``dict(type='GhostModuleV3', ...)``            re-param branches
    RepGhostNet      ``dict(type='RepGhostModule', ...)``           None
    ===============  =============================================  ======================

    Both Ghost modules are built from ``ghost_cfg`` through the registry (scope ``mmghost``),
    with the block's channels, ``norm_cfg``, ``act_cfg`` (ghost1) or no activation (ghost2),
    ``use_dfc`` when the module class takes it, and ``deploy`` when it is re-parameterizable.
    The stride-2 depth-wise conv is ``conv_dw`` + ``bn_dw``; with ``dw_cfg`` it trains as
    ``num_conv_branches`` conv-BN branches ``dw_rpr_conv`` plus (``dw_scale``) a 1x1 branch
    ``dw_rpr_scale``, fused into a ``conv_dw`` with bias. The shortcut is the identity when
    ``in == out`` at stride 1, otherwise a DW ``kxk`` conv (block stride) + BN + 1x1 conv +
    BN. There is no activation after the addition. Key names follow the reference code.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expanded channels.
        out_channels (int): Output channels.
        kernel_size (int): DW kernel size (3 or 5 in the papers). Defaults to 3.
        stride (int): Block stride, 1 or 2. Defaults to 1.
        se_ratio (float): SE reduction ratio; 0 disables SE. Defaults to 0.
        ghost_cfg (dict): Config of both Ghost modules. Defaults to
            ``dict(type='GhostModule')``.
        dw_cfg (dict, optional): ``dict(num_conv_branches=3, dw_scale=True)`` trains the
            stride-2 DW conv as re-parameterizable branches; None: conv + BN.
        use_dfc (bool): DFC attention on ghost1 (needs a Ghost module with ``use_dfc``).
            Defaults to False.
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
                 ghost_cfg: dict = dict(type='GhostModule'),
                 dw_cfg: Optional[dict] = None,
                 use_dfc: bool = False,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if not isinstance(ghost_cfg, dict) or 'type' not in ghost_cfg:
            raise ValueError(f'ghost_cfg must be a dict with a type, got {ghost_cfg!r}')
        ghost_cls = _ghost_class(ghost_cfg)
        takes = inspect.signature(ghost_cls).parameters
        if use_dfc and 'use_dfc' not in takes:
            raise ValueError(f'DFC attention needs a Ghost module that has it (GhostModuleV2, '
                             f'GhostModuleV3); ghost_cfg type {ghost_cfg["type"]!r} has none')
        self.in_channels = in_channels
        self.mid_channels = mid_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.with_cp = with_cp
        self.rep_dw = dw_cfg is not None and stride > 1
        # Blocks with nothing to fuse (GhostNet V1/V2) are always "deployed".
        self.deploy = deploy or not (issubclass(ghost_cls, RepModuleMixin) or self.rep_dw)
        pad = (kernel_size - 1) // 2

        def ghost(cin: int, cout: int, act: Optional[dict], dfc: bool) -> nn.Module:
            cfg = dict(ghost_cfg, in_channels=cin, out_channels=cout, act_cfg=act,
                       _scope_='mmghost')
            cfg.setdefault('norm_cfg', norm_cfg)
            if 'use_dfc' in takes:
                cfg['use_dfc'] = dfc
            if issubclass(ghost_cls, RepModuleMixin):
                cfg['deploy'] = self.deploy
            return MODELS.build(cfg)

        self.ghost1 = ghost(in_channels, mid_channels, act_cfg, use_dfc)
        if stride > 1:
            if self.rep_dw and not self.deploy:
                unknown = set(dw_cfg) - {'num_conv_branches', 'dw_scale'}
                if unknown:
                    raise ValueError(f'dw_cfg takes num_conv_branches and dw_scale, got '
                                     f'{sorted(unknown)}')
                branches = check_num_branches(dw_cfg.get('num_conv_branches', 3))
                self.dw_rpr_conv = nn.ModuleList(
                    ConvBN(mid_channels, mid_channels, kernel_size, stride, pad,
                           groups=mid_channels, norm_cfg=norm_cfg) for _ in range(branches))
                self.dw_rpr_scale = ConvBN(
                    mid_channels, mid_channels, 1, stride, 0, groups=mid_channels,
                    norm_cfg=norm_cfg) if dw_cfg.get('dw_scale', True) else None
            else:
                self.conv_dw = nn.Conv2d(mid_channels, mid_channels, kernel_size, stride, pad,
                                         groups=mid_channels, bias=self.rep_dw)
                if not self.rep_dw:
                    self.bn_dw = build_norm_layer(norm_cfg, mid_channels)[1]

        self.se = SqueezeExcite(mid_channels, se_ratio) if se_ratio and se_ratio > 0 else None

        self.ghost2 = ghost(mid_channels, out_channels, None, False)

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
        """Fuse the stride-2 DW branches; the Ghost modules fuse themselves."""
        if not self.rep_dw:
            return
        branches = rep_branches(self.dw_rpr_conv, self.dw_rpr_scale)
        mid = self.mid_channels
        w, b = fuse_branches(branches, self.kernel_size, mid, mid, groups=mid)
        self.conv_dw = conv_from_fused(w, b, self.stride, (self.kernel_size - 1) // 2,
                                       groups=mid)
        del self.dw_rpr_conv
        del self.dw_rpr_scale
