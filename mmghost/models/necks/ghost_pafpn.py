"""GhostPAFPN: a path-aggregation FPN whose fusion blocks are Ghost bottlenecks."""
import numbers
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmghost.registry import MODELS
from ..layers import GhostBottleneck, RepModuleMixin

__all__ = ['GhostPAFPN', 'GhostFusionBlock']


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')
    return int(value)


class GhostFusionBlock(nn.Sequential):
    """``num_blocks`` Ghost bottlenecks fusing a concatenation down to ``out_channels``.

    The first bottleneck maps ``in_channels`` to ``out_channels`` (its shortcut is the
    bottleneck's own depth-wise + point-wise projection), the others keep ``out_channels``
    with an identity shortcut. Each expands to ``round(out_channels * expand_ratio)``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int,
                 kernel_size: int, expand_ratio: float, block_cfg: dict, deploy: bool,
                 norm_cfg: dict, act_cfg: dict):
        mid = max(1, int(round(out_channels * expand_ratio)))
        super().__init__(*(GhostBottleneck(in_channels if i == 0 else out_channels, mid,
                                           out_channels, kernel_size, 1, deploy=deploy,
                                           norm_cfg=norm_cfg, act_cfg=act_cfg, **block_cfg)
                           for i in range(num_blocks)))


@MODELS.register_module()
class GhostPAFPN(BaseModule):
    """Path-aggregation FPN with Ghost-bottleneck fusion and depth-wise downsampling.

    Every input level is first reduced to ``out_channels`` by a 1x1 ConvModule, so all
    fusions work at one width (the light design of NanoDet-Plus's Ghost-PAN). Top-down, the
    coarser level is upsampled (nearest, to the finer level's size) and concatenated with the
    finer one; bottom-up, the finer output is downsampled by a depth-wise ``kxk`` stride-2
    conv followed by a point-wise conv (mmcv's ``DepthwiseSeparableConvModule``) and
    concatenated with the top-down feature of the coarser level. Each concatenation
    (``2 x out_channels``) is fused back to ``out_channels`` by a :class:`GhostFusionBlock`.
    The outputs, finest first, have ``out_channels`` each: a drop-in for mmdet's
    ``CSPNeXtPAFPN`` in front of an RTMDet head with ``in_channels=out_channels``.

    The Ghost bottlenecks are configured by ``block_cfg`` (keys of :class:`GhostBottleneck`,
    e.g. ``dict(ghost_cfg=dict(type='GhostModuleV3'))`` or ``dict(ghost_cfg=dict(
    type='RepGhostModule'))``); with a re-parameterizable Ghost module the neck trains with
    branches and :meth:`switch_to_deploy` fuses them (``deploy=True`` builds it fused).

    Args:
        in_channels (Sequence[int]): Channels of each input level, finest first (at least
            two levels, each twice the stride of the one before).
        out_channels (int): Channels of every output level.
        num_blocks (int): Ghost bottlenecks per fusion. Defaults to 1.
        kernel_size (int): Kernel of the bottlenecks' depth-wise shortcut and of the
            downsampling convs; odd. Defaults to 5.
        expand_ratio (float): Bottleneck expansion, relative to ``out_channels``.
            Defaults to 1.0.
        block_cfg (dict): Extra arguments of every :class:`GhostBottleneck` (``ghost_cfg``,
            ``se_ratio``, ``use_dfc``). Defaults to ``dict(ghost_cfg=dict(type=
            'GhostModule'))``.
        deploy (bool): Build re-parameterizable blocks fused. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the reduce and downsample convs and of the bottlenecks'
            first Ghost module. Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to Kaiming
            for the convs.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 num_blocks: int = 1,
                 kernel_size: int = 5,
                 expand_ratio: float = 1.0,
                 block_cfg: dict = dict(ghost_cfg=dict(type='GhostModule')),
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.1),
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='Conv2d', a=0.1, distribution='uniform',
                     mode='fan_in', nonlinearity='leaky_relu')):
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, (str, bytes)) or not isinstance(in_channels, Sequence) \
                or len(in_channels) < 2:
            raise ValueError(f'in_channels must list the channels of at least two input '
                             f'levels, finest first, got {in_channels!r}')
        in_channels = [_positive_int(c, f'in_channels[{i}]') for i, c in enumerate(in_channels)]
        out_channels = _positive_int(out_channels, 'out_channels')
        num_blocks = _positive_int(num_blocks, 'num_blocks')
        kernel_size = _positive_int(kernel_size, 'kernel_size')
        if kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd (same-size padding), got {kernel_size}')
        if isinstance(expand_ratio, bool) or not isinstance(expand_ratio, numbers.Real) or \
                not expand_ratio > 0:
            raise ValueError(f'expand_ratio must be a positive number, got {expand_ratio!r}')
        if not isinstance(block_cfg, dict):
            raise ValueError(f'block_cfg must be a dict of GhostBottleneck arguments, got '
                             f'{block_cfg!r}')
        fixed = set(block_cfg) & {'in_channels', 'mid_channels', 'out_channels', 'stride',
                                  'kernel_size', 'deploy', 'norm_cfg', 'act_cfg'}
        if fixed:
            raise ValueError(f'block_cfg cannot set {sorted(fixed)}: the neck sets them '
                             f'(use its own arguments kernel_size, expand_ratio, deploy, '
                             f'norm_cfg, act_cfg)')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.deploy = deploy
        levels = len(in_channels)

        self.reduce_layers = nn.ModuleList(
            ConvModule(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in in_channels)

        def fusion() -> GhostFusionBlock:
            return GhostFusionBlock(2 * out_channels, out_channels, num_blocks, kernel_size,
                                    expand_ratio, block_cfg, deploy, norm_cfg, act_cfg)

        # top_down_blocks[i] makes level i from level i + 1; bottom_up_blocks[i] level i + 1.
        self.top_down_blocks = nn.ModuleList(fusion() for _ in range(levels - 1))
        self.downsamples = nn.ModuleList(
            DepthwiseSeparableConvModule(out_channels, out_channels, kernel_size, stride=2,
                                         padding=kernel_size // 2, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)
            for _ in range(levels - 1))
        self.bottom_up_blocks = nn.ModuleList(fusion() for _ in range(levels - 1))

    def _check_inputs(self, inputs: Sequence[Tensor]) -> None:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'GhostPAFPN got {len(inputs)} feature levels, its in_channels '
                             f'list {len(self.in_channels)}: set the backbone\'s out_indices '
                             f'and the neck\'s in_channels to the same levels')
        got = [int(x.shape[1]) for x in inputs]
        if got != self.in_channels:
            raise ValueError(f'GhostPAFPN got feature levels of {got} channels, its '
                             f'in_channels are {self.in_channels}: set in_channels to the '
                             f'backbone\'s stage_channels at its out_indices')

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            self._check_inputs(inputs)
        feats = [reduce(x) for reduce, x in zip(self.reduce_layers, inputs)]
        inner: List[Tensor] = [feats[-1]]
        for i in range(len(feats) - 2, -1, -1):
            up = F.interpolate(inner[0], size=feats[i].shape[-2:], mode='nearest')
            inner.insert(0, self.top_down_blocks[i](torch.cat([up, feats[i]], 1)))
        outs = [inner[0]]
        for i in range(len(feats) - 1):
            down = self.downsamples[i](outs[-1])
            if down.shape[-2:] != inner[i + 1].shape[-2:]:
                raise ValueError(
                    f'GhostPAFPN level {i + 1} is {tuple(inner[i + 1].shape[-2:])} but level '
                    f'{i} downsampled is {tuple(down.shape[-2:])}: each input level must have '
                    f'half the size of the one before (strides 8/16/32, say)')
            outs.append(self.bottom_up_blocks[i](torch.cat([down, inner[i + 1]], 1)))
        return tuple(outs)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fuse every re-parameterizable Ghost bottleneck (exact in eval mode)."""
        for m in self.modules():
            if isinstance(m, RepModuleMixin):
                m.switch_to_deploy()
        self.deploy = True
