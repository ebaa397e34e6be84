"""Inference-only forms of mmghost models: BN folding, NHWC, and a concat-free GhostNet.

Nothing here changes what a model computes (up to float rounding); everything changes how.
These forms are for running a trained model (eager PyTorch, ONNX export), not for
checkpoints: their ``state_dict`` is not the deploy layout that ``deploy=True`` configs load.

Why a concat-free form: every Ghost module ends in ``cat([x1, x2])``. ONNX Runtime runs convs
in a blocked channel layout (NCHWc) and cannot concatenate blocked tensors whose channel
counts are not multiples of the block, so each concat costs two layout reorders out, the
concat and a reorder back in: about a quarter of GhostNetV3's ORT time. A Ghost network is
linear in its channels between non-linearities, so the two halves never need to meet: convs
that read both halves become a sum of two convs (which ORT fuses), per-channel ops are split
in two, and the residual stream itself travels as two halves.
"""
import math
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import fuse_conv_bn as fuse_conv_bn_modules
from torch import Tensor

from .backbones.base_ghostnet import BaseGhostNet
from .layers import GhostBottleneck, GhostModuleV3, switch_to_deploy

__all__ = ['optimize_for_inference', 'ConcatFreeGhostNet']


def _conv_slice(conv: nn.Conv2d, rows: slice, cols: slice, with_bias: bool) -> nn.Conv2d:
    """A copy of ``conv`` restricted to output channels ``rows`` and input channels ``cols``.

    Depth-wise convs take ``rows`` only (their groups follow the channels).
    """
    depthwise = conv.groups > 1
    weight = conv.weight[rows] if depthwise else conv.weight[rows][:, cols]
    groups = weight.shape[0] if depthwise else 1
    bias = conv.bias[rows] if (with_bias and conv.bias is not None) else None
    out = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, groups, bias=bias is not None).to(weight)
    out.weight.data.copy_(weight)
    if bias is not None:
        out.bias.data.copy_(bias)
    return out


def _offsets(sizes: Sequence[int]) -> List[slice]:
    out, start = [], 0
    for n in sizes:
        out.append(slice(start, start + n))
        start += n
    return out


def _halves(channels: int, first: Optional[int] = None) -> List[int]:
    """Chunk sizes of a tensor with ``channels`` channels split after ``first`` channels."""
    first = math.ceil(channels / 2) if first is None else first
    return [first, channels - first] if 0 < first < channels else [channels]


class ChunkConv(nn.Module):
    """A conv applied to a tensor given as channel chunks, producing channel chunks.

    A dense conv becomes, per output chunk, the sum over input chunks of the conv restricted
    to those rows and columns (the bias is added once); a depth-wise conv is applied to each
    chunk with its own channels (input and output chunking must then agree).
    """

    def __init__(self, conv: nn.Conv2d, in_sizes: Sequence[int], out_sizes: Sequence[int]):
        super().__init__()
        if sum(in_sizes) != conv.in_channels or sum(out_sizes) > conv.out_channels:
            raise ValueError(f'chunks {list(in_sizes)} -> {list(out_sizes)} do not fit a conv '
                             f'{conv.in_channels} -> {conv.out_channels}')
        self.depthwise = conv.groups > 1
        if self.depthwise:
            if conv.groups != conv.in_channels or list(in_sizes) != list(out_sizes[:len(in_sizes)]):
                raise ValueError('a grouped conv can only be chunked depth-wise, chunk by chunk')
            self.convs = nn.ModuleList(
                _conv_slice(conv, r, r, True) for r in _offsets(out_sizes))
        else:
            if conv.groups != 1:
                raise ValueError('only dense and depth-wise convs can be chunked')
            self.convs = nn.ModuleList(
                nn.ModuleList(_conv_slice(conv, r, c, i == 0)
                              for i, c in enumerate(_offsets(in_sizes)))
                for r in _offsets(out_sizes))

    def forward(self, chunks: List[Tensor]) -> List[Tensor]:
        if self.depthwise:
            return [conv(x) for conv, x in zip(self.convs, chunks)]
        outs = []
        for row in self.convs:
            y = row[0](chunks[0])
            for conv, x in zip(row[1:], chunks[1:]):
                y = y + conv(x)
            outs.append(y)
        return outs


def _ghost_parts(g: nn.Module):
    """``(primary conv, after primary, cheap conv, after cheap)`` of a deployed, BN-folded
    Ghost module (V1/V2 ``Sequential(conv, Identity[, act])`` or V3 conv + activation)."""
    if isinstance(g, GhostModuleV3):
        post = [nn.Sequential(*([a] if a is not None else []))
                for a in (g.primary_activation, g.cheap_activation)]
        return g.primary_conv[0], post[0], g.cheap_operation[0], post[1]
    return (g.primary_conv[0], nn.Sequential(*g.primary_conv[1:]), g.cheap_operation[0],
            nn.Sequential(*g.cheap_operation[1:]))


class _ChunkedBottleneck(nn.Module):
    """A deployed, BN-folded V1/V2/V3 Ghost bottleneck on channel chunks, without concat."""

    def __init__(self, block: GhostBottleneck, in_sizes: List[int]):
        super().__init__()
        g1, g2 = block.ghost1, block.ghost2
        mid, out = block.mid_channels, block.out_channels
        self.mid_sizes = _halves(mid, g1.init_channels)
        self.out_sizes = _halves(out, g2.init_channels)
        p1, self.post_p1, c1, self.post_c1 = _ghost_parts(g1)
        self.primary1 = ChunkConv(p1, in_sizes, self.mid_sizes[:1])
        self.cheap1 = ChunkConv(c1, self.mid_sizes[:1], self.mid_sizes[1:])
        self.use_dfc = bool(getattr(g1, 'use_dfc', False))
        if self.use_dfc:
            dfc = [m for m in g1.short_conv if isinstance(m, nn.Conv2d)]
            self.dfc = nn.ModuleList([
                ChunkConv(dfc[0], in_sizes, self.mid_sizes),
                ChunkConv(dfc[1], self.mid_sizes, self.mid_sizes),
                ChunkConv(dfc[2], self.mid_sizes, self.mid_sizes)
            ])
        self.stride = block.stride
        if block.stride > 1:
            self.conv_dw = ChunkConv(block.conv_dw, self.mid_sizes, self.mid_sizes)
        self.with_se = block.se is not None
        if self.with_se:
            red = block.se.conv_reduce.out_channels
            self.se_reduce = ChunkConv(block.se.conv_reduce, self.mid_sizes, [red])
            self.se_expand = ChunkConv(block.se.conv_expand, [red], self.mid_sizes)
        p2, self.post_p2, c2, self.post_c2 = _ghost_parts(g2)
        self.primary2 = ChunkConv(p2, self.mid_sizes, self.out_sizes[:1])
        self.cheap2 = ChunkConv(c2, self.out_sizes[:1], self.out_sizes[1:])
        self.identity = len(block.shortcut) == 0
        if self.identity:
            if in_sizes != self.out_sizes:
                raise ValueError('identity shortcut between differently chunked tensors')
        else:
            sc = [m for m in block.shortcut if isinstance(m, nn.Conv2d)]
            self.shortcut = nn.Sequential(ChunkConv(sc[0], in_sizes, in_sizes),
                                          ChunkConv(sc[1], in_sizes, self.out_sizes))

    def forward(self, chunks: List[Tensor]) -> List[Tensor]:
        x1 = self.post_p1(self.primary1(chunks)[0])
        halves = [x1] + [self.post_c1(y) for y in self.cheap1([x1])]
        if self.use_dfc:  # the pooling rule of dfc_gate
            if chunks[0].shape[-2] >= 2 and chunks[0].shape[-1] >= 2:
                pooled = [F.avg_pool2d(c, 2, 2) for c in chunks]
            else:
                pooled = chunks
            gates = self.dfc[2](self.dfc[1](self.dfc[0](pooled)))
            halves = [
                h * F.interpolate(torch.sigmoid(g), size=h.shape[-2:], mode='nearest')
                for h, g in zip(halves, gates)
            ]
        if self.stride > 1:
            halves = self.conv_dw(halves)
        if self.with_se:
            s = self.se_reduce([F.adaptive_avg_pool2d(h, 1) for h in halves])[0]
            scales = self.se_expand([F.relu(s)])
            halves = [h * F.hardsigmoid(a) for h, a in zip(halves, scales)]
        y1 = self.post_p2(self.primary2(halves)[0])
        outs = [y1] + [self.post_c2(y) for y in self.cheap2([y1])]
        residual = chunks if self.identity else self.shortcut(chunks)
        return [a + b for a, b in zip(outs, residual)]


class ConcatFreeGhostNet(nn.Module):
    """A deployed, BN-folded GhostNet / V2 / V3 / V3-Small backbone that never concatenates.

    Same inputs and outputs as the backbone it is built from (a tuple of the ``out_indices``
    stages); inside, every tensor travels as two channel halves (see the module docstring).
    Only the requested stage outputs are concatenated. In eager PyTorch it is not faster (more,
    smaller ops); it is the graph :func:`mmghost.utils.onnx.export_onnx` gives ONNX Runtime.

    Args:
        backbone (BaseGhostNet): A V1/V2/V3 backbone after :func:`switch_to_deploy` and BN
            folding (see :func:`optimize_for_inference`).
    """

    def __init__(self, backbone: BaseGhostNet):
        super().__init__()
        if not self.applicable(backbone):
            raise ValueError('ConcatFreeGhostNet needs a deployed GhostNet/V2/V3 backbone '
                             'with folded BNs (optimize_for_inference)')
        self.out_indices = backbone.out_indices
        first = backbone.blocks[0][0]
        sizes = _halves(first.in_channels, first.ghost2.init_channels if
                        first.in_channels == first.out_channels and first.stride == 1 else None)
        self.stem = ChunkConv(backbone.conv_stem, [3], sizes)
        self.stem_act = backbone.act1
        stages = []
        for stage in backbone.blocks[:-1]:
            blocks = []
            for block in stage:
                blocks.append(_ChunkedBottleneck(block, sizes))
                sizes = blocks[-1].out_sizes
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        final = backbone.blocks[-1][0]
        self.final = ChunkConv(final.conv, sizes, [final.conv.out_channels])
        self.final_act = final.act1

    @staticmethod
    def applicable(backbone: nn.Module) -> bool:
        if not isinstance(backbone, BaseGhostNet) or backbone.version == 'rep':
            return False
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in backbone.modules()):
            return False
        blocks = [b for stage in backbone.blocks[:-1] for b in stage]
        return all(
            isinstance(b, GhostBottleneck) and b.deploy and getattr(b.ghost1, 'deploy', True)
            and b.mid_channels == 2 * b.ghost1.init_channels
            and b.out_channels == 2 * b.ghost2.init_channels for b in blocks)

    def forward(self, x: Tensor) -> tuple:
        chunks = [self.stem_act(c) for c in self.stem([x])]
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage:
                chunks = block(chunks)
            if i in self.out_indices:
                outs.append(torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0])
        if len(self.stages) in self.out_indices:
            outs.append(self.final_act(self.final(chunks)[0]))
        return tuple(outs)


@torch.no_grad()
def optimize_for_inference(model: nn.Module, channels_last: bool = False,
                           concat_free: bool = False) -> nn.Module:
    """Prepare ``model`` for inference without changing its outputs; use the returned module.

    1. :func:`switch_to_deploy` (re-parameterizable blocks become single convs);
    2. every BatchNorm that follows a conv is folded into it (mmcv's ``fuse_conv_bn``): the
       stem, shortcuts, DFC branches, V1/V2 Ghost modules and the final 1x1 conv;
    3. ``concat_free=True`` replaces GhostNet/V2/V3/V3-Small backbones by
       :class:`ConcatFreeGhostNet` (for ONNX Runtime; neutral to slower in eager PyTorch);
    4. ``channels_last=True`` stores the weights NHWC (give it NHWC inputs too: oneDNN's
       depth-wise convs are much faster on them).

    ``model`` is changed in place and put in eval mode (folding uses the BN running
    statistics); when ``model`` itself is a backbone replaced in step 3, the new module is
    returned.
    """
    model.eval()
    switch_to_deploy(model)
    fuse_conv_bn_modules(model)
    if concat_free:
        if ConcatFreeGhostNet.applicable(model):
            model = ConcatFreeGhostNet(model)
        for module in list(model.modules()):
            for name, child in list(module.named_children()):
                if ConcatFreeGhostNet.applicable(child):
                    setattr(module, name, ConcatFreeGhostNet(child))
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model.eval()
