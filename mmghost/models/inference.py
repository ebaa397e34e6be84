"""Inference-only forms of mmghost models: BN folding, NHWC, and a concat-free Ghost block.

Nothing here changes what a model computes (up to float rounding); everything changes how.
These forms are for running a trained model (eager, ONNX export), not for checkpoints: their
``state_dict`` is not the deploy layout that ``deploy=True`` configs load.
"""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import fuse_conv_bn as fuse_conv_bn_modules
from torch import Tensor

from .ghost_bottleneck import GhostBottleneck
from .ghost_module import GhostModuleV3
from .reparam import switch_to_deploy

__all__ = ['optimize_for_inference', 'SplitGhostBottleneck']


def _conv_slice(conv: nn.Conv2d, rows: slice = slice(None), cols: slice = slice(None),
                with_bias: bool = True) -> nn.Conv2d:
    """A copy of ``conv`` restricted to output channels ``rows`` and input channels ``cols``.

    Depth-wise convs take ``rows`` only (their groups follow the channels).
    """
    depthwise = conv.groups > 1
    if depthwise and (conv.groups != conv.in_channels or conv.out_channels != conv.in_channels):
        raise ValueError('only dense and depth-wise convs can be split')
    weight = conv.weight[rows] if depthwise else conv.weight[rows][:, cols]
    groups = weight.shape[0] if depthwise else 1
    bias = conv.bias[rows] if (with_bias and conv.bias is not None) else None
    out = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, groups, bias=bias is not None).to(weight)
    out.weight.data.copy_(weight)
    if bias is not None:
        out.bias.data.copy_(bias)
    return out


class SplitGhostBottleneck(nn.Module):
    """A deployed, BN-folded V1/V2/V3 :class:`GhostBottleneck` that never concatenates ghost1.

    ghost1's output is ``cat([x1, x2])``. Every op between it and ghost2's primary ``1x1``
    conv is per channel (DFC gate, stride-2 depth-wise conv, SE scaling) or linear in the
    channels (SE's reduce conv, ghost2's primary conv), so the two halves can travel apart:
    per-channel ops are split in two, linear ops become a sum of two convs. The result is
    the same function without the concatenation. In eager PyTorch this is neutral; in ONNX
    Runtime it keeps the blocked (NCHWc) layout through the block and removes a concat and
    its layout reorders (about 0.92x the export's latency, see the README).

    Args:
        block (GhostBottleneck): A ``'v1'``/``'v2'``/``'v3'`` block after
            :func:`switch_to_deploy` and BN folding, whose mid channels are exactly twice
            ghost1's intrinsic channels.
    """

    def __init__(self, block: GhostBottleneck):
        super().__init__()
        if not self.applicable(block):
            raise ValueError('SplitGhostBottleneck needs a deployed v1/v2/v3 GhostBottleneck '
                             'with mid_channels == 2 * ghost1.init_channels')
        g1, g2 = block.ghost1, block.ghost2
        half = slice(0, g1.init_channels), slice(g1.init_channels, block.mid_channels)
        self.v3 = isinstance(g1, GhostModuleV3)
        self.out_channels = block.out_channels
        self.ghost1 = g1  # x1 and x2 come from its own convs
        self.use_dfc = bool(getattr(g1, 'use_dfc', False))
        if self.use_dfc:
            convs = [m for m in g1.short_conv if isinstance(m, nn.Conv2d)]
            if len(convs) != 3 or any(not isinstance(m, (nn.Conv2d, nn.Identity))
                                      for m in g1.short_conv):
                raise ValueError('fold the DFC branch BNs first (optimize_for_inference)')
            self.dfc = nn.ModuleList(
                nn.Sequential(*[_conv_slice(c, rows=h) for c in convs]) for h in half)
        self.stride = block.stride
        if block.stride > 1:
            if not block.rep_dw and not isinstance(block.bn_dw, nn.Identity):
                raise ValueError('fold bn_dw into conv_dw first (optimize_for_inference)')
            self.conv_dw = nn.ModuleList(_conv_slice(block.conv_dw, rows=h) for h in half)
        self.with_se = block.se is not None
        if self.with_se:
            self.se_reduce = nn.ModuleList(
                _conv_slice(block.se.conv_reduce, cols=h, with_bias=i == 0)
                for i, h in enumerate(half))
            self.se_expand = nn.ModuleList(
                _conv_slice(block.se.conv_expand, rows=h) for h in half)
        self.primary2 = nn.ModuleList(
            _conv_slice(g2.primary_conv[0], cols=h, with_bias=i == 0)
            for i, h in enumerate(half))
        self.primary2_rest = g2.primary_conv[1:]  # Identity (folded BN) [+ activation]
        self.ghost2 = g2
        self.shortcut = block.shortcut

    @staticmethod
    def applicable(block: nn.Module) -> bool:
        return isinstance(block, GhostBottleneck) and block.version in ('v1', 'v2', 'v3') \
            and block.deploy and getattr(block.ghost1, 'deploy', True) \
            and 2 * block.ghost1.init_channels == block.mid_channels \
            and isinstance(block.ghost2.primary_conv[0], nn.Conv2d)

    def _ghost_halves(self, g: nn.Module, x: Tensor) -> List[Tensor]:
        if self.v3:
            x1 = g.primary_conv(x)
            x1 = g.primary_activation(x1) if g.primary_activation is not None else x1
            x2 = g.cheap_operation(x1)
            x2 = g.cheap_activation(x2) if g.cheap_activation is not None else x2
            return [x1, x2]
        x1 = g.primary_conv(x)
        return [x1, g.cheap_operation(x1)]

    def forward(self, x: Tensor) -> Tensor:
        halves = self._ghost_halves(self.ghost1, x)
        if self.use_dfc:  # same pooling rule as dfc_gate
            pooled = F.avg_pool2d(x, 2, 2) if x.shape[-2] >= 2 and x.shape[-1] >= 2 else x
            halves = [
                h * F.interpolate(torch.sigmoid(dfc(pooled)), size=h.shape[-2:], mode='nearest')
                for h, dfc in zip(halves, self.dfc)
            ]
        if self.stride > 1:
            halves = [conv(h) for conv, h in zip(self.conv_dw, halves)]
        if self.with_se:
            s = sum(red(F.adaptive_avg_pool2d(h, 1)) for red, h in zip(self.se_reduce, halves))
            s = F.relu(s)
            halves = [h * F.hardsigmoid(exp(s)) for exp, h in zip(self.se_expand, halves)]
        y1 = self.primary2_rest(self.primary2[0](halves[0]) + self.primary2[1](halves[1]))
        g2 = self.ghost2
        if self.v3:
            y1 = g2.primary_activation(y1) if g2.primary_activation is not None else y1
            y2 = g2.cheap_operation(y1)
            y2 = g2.cheap_activation(y2) if g2.cheap_activation is not None else y2
        else:
            y2 = g2.cheap_operation(y1)
        out = torch.cat([y1, y2], dim=1)
        if out.shape[1] != self.out_channels:
            out = out[:, :self.out_channels]
        return out + self.shortcut(x)


@torch.no_grad()
def optimize_for_inference(model: nn.Module, channels_last: bool = False,
                           split_ghost: bool = False) -> nn.Module:
    """Prepare ``model`` for inference, in place, without changing its outputs.

    1. :func:`switch_to_deploy` (re-parameterizable blocks become single convs);
    2. every BatchNorm that follows a conv is folded into it (mmcv's ``fuse_conv_bn``): the
       stem, shortcuts, DFC branches, V1/V2 Ghost modules and the final 1x1 conv;
    3. ``split_ghost=True`` replaces V1/V2/V3 bottlenecks by :class:`SplitGhostBottleneck`
       (for ONNX export: no concat inside the block; neutral in eager PyTorch);
    4. ``channels_last=True`` stores the weights NHWC (give it NHWC inputs too: oneDNN's
       depth-wise convs are much faster on them, see the README's latency table).

    The model is put in eval mode, since folding uses the BN running statistics.

    Returns:
        nn.Module: ``model`` itself.
    """
    model.eval()
    switch_to_deploy(model)
    fuse_conv_bn_modules(model)
    if split_ghost:
        for module in list(model.modules()):
            for name, child in list(module.named_children()):
                if SplitGhostBottleneck.applicable(child):
                    setattr(module, name, SplitGhostBottleneck(child))
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model.eval()
