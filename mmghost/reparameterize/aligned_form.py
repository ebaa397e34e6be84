"""The channel-aligned form of a GhostNet backbone, for ONNX Runtime's blocked layout.

ONNX Runtime runs convs on CPU in a blocked layout (NCHWc: channels in blocks of 8 with AVX2,
16 with AVX-512). Its graph optimizer keeps a tensor in that layout from one op to the next
only when the channel counts are whole blocks: a depth-wise conv needs whole blocks of output
channels, a ``Concat`` whole blocks in every input, a ``Mul`` two inputs of the same shape.
Everywhere else it converts the tensor back to plain NCHW and forward again, a full copy each
way. The Ghost modules' halves (8, 12, 20, 36, 60, 92 or 100 channels at 1.0x) are rarely whole
blocks, so most of a GhostNet's concats, depth-wise convs and gates pay two copies.

:func:`align_channels` rewrites a deploy-form backbone so that the tensors inside it hold
each Ghost half (and the stem) in whole blocks where that costs little (:data:`MAX_GROWTH`),
padded with channels that nothing reads: the
padded filters and biases are zeros, and every conv that reads a padded tensor has zero
weights on the padding, so what the real channels hold is what the model computed before, up
to float rounding (the zeros only add exact zero products). The SE gate is upsampled to its
map's size before its multiply (``expand_se``; nearest from 1 x 1, the same numbers), so that
the multiply, like the DFC gate's, takes two blocked tensors of one shape. The stages' outputs
are returned with the padding removed.

BNs are folded into their convs first (as ONNX Runtime would), so the result is for running
(exporting) a trained model, not a checkpoint layout. It costs MACs (1.16x GhostNetV3's at 1.0x)
and saves most of the copies; whether it wins depends on the
runtime, which is why it is an export option (docs/deployment.md).
"""
import math
from fractions import Fraction
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mmghost.models.layers import GhostBottleneck
from mmghost.models.layers.ghost_module import GhostModule, GhostModuleV3, dfc_gate

__all__ = ['ChannelLayout', 'align_channels', 'align_backbones', 'alignable', 'AlignedGhostNet',
           'ORT_BLOCK']

#: The channel block the aligned form pads to by default: ONNX Runtime's NCHWc block with
#: AVX-512 (16), a whole number of its AVX2 block (8), so one file suits both.
ORT_BLOCK = 16
#: A group of channels is padded only when that grows it by at most a third (12 -> 16,
#: 36 -> 48, 60 -> 64, ...; 8 -> 16 and 20 -> 32 stay as they are): measured on
#: GhostNetV3 / GhostNet 1.0x in ONNX Runtime, padding every group ran no faster and cost
#: 1.37x the MACs, this rule 1.16x (docs/benchmarks.md).
MAX_GROWTH = Fraction(4, 3)


class ChannelLayout:
    """Where each logical channel of a tensor sits in its padded (physical) form.

    ``segments`` are the logical channels as consecutive groups (a Ghost module's two halves);
    each group starts on a block boundary and is followed by zero padding to the next one.
    A group is padded only when that grows it by at most :data:`MAX_GROWTH`; the others are
    packed. ``keep`` drops logical channels after the first ``keep`` (a Ghost module with an
    odd number of output channels computes one more and slices it off).
    """

    def __init__(self, segments: Sequence[int], block: int, keep: Optional[int] = None):
        pos, start = [], 0
        for n in segments:
            pos.extend(range(start, start + n))
            padded = int(math.ceil(n / block)) * block
            start += padded if padded <= MAX_GROWTH * n else n
        self.width = start
        self.pos = torch.tensor(pos[:keep] if keep is not None else pos, dtype=torch.long)

    @classmethod
    def dense(cls, channels: int) -> 'ChannelLayout':
        return cls([channels], 1)

    @property
    def channels(self) -> int:
        return len(self.pos)

    @property
    def is_dense(self) -> bool:
        return self.width == self.channels

    def __repr__(self):
        return f'ChannelLayout({self.channels} channels in {self.width})'


def _ghost_layout(channels: int, block: int) -> ChannelLayout:
    init = math.ceil(channels / 2)
    return ChannelLayout([init, init], block, keep=channels)


def _fold(conv: nn.Conv2d, bn: Optional[nn.Module]) -> nn.Conv2d:
    if bn is None:
        return conv
    return fuse_conv_bn_eval(conv.eval(), bn.eval())


@torch.no_grad()
def _padded(conv: nn.Conv2d, bn: Optional[nn.Module], cin: ChannelLayout,
            cout: ChannelLayout) -> nn.Conv2d:
    """``conv`` (BN folded) reading ``cin`` and writing ``cout``, zeros on both paddings: a
    dense conv (groups=1), or a depth-wise one (one filter per channel, ``cin`` is
    ``cout``)."""
    conv = _fold(conv, bn)
    depthwise = conv.groups > 1
    if depthwise and not (conv.groups == conv.in_channels == conv.out_channels == cin.channels
                          and cin is cout):
        raise ValueError(f'expected a dense or depth-wise conv over {cin}, got groups='
                         f'{conv.groups} for {conv.in_channels} -> {conv.out_channels} channels')
    new = nn.Conv2d(cin.width, cout.width, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, groups=cin.width if depthwise else 1, bias=True)
    new.weight.zero_()
    new.bias.zero_()
    if depthwise:
        new.weight[cout.pos] = conv.weight
    else:
        new.weight[cout.pos[:, None], cin.pos[None, :]] = conv.weight
    if conv.bias is not None:
        new.bias[cout.pos] = conv.bias
    return new


def _dense(conv, bn, cin: ChannelLayout, cout: ChannelLayout) -> nn.Conv2d:
    return _padded(conv, bn, cin, cout)


def _depthwise(conv, bn, layout: ChannelLayout) -> nn.Conv2d:
    return _padded(conv, bn, layout, layout)


def _conv_bn(seq: nn.Sequential):
    """``(conv, bn or None, rest)`` of a ``conv [bn] [act ...]`` sequence."""
    mods = list(seq)
    conv, rest = mods[0], mods[1:]
    bn = rest.pop(0) if rest and isinstance(rest[0], nn.modules.batchnorm._BatchNorm) else None
    return conv, bn, rest


def _act_of(rest: List[nn.Module]) -> nn.Module:
    if len(rest) > 1:
        raise ValueError(f'expected at most an activation after the BN, got {rest}')
    return rest[0] if rest else nn.Identity()


class _AlignedGhost(nn.Module):
    """A deploy-form Ghost module (V1, V2, V3) in the aligned layout."""

    def __init__(self, module: nn.Module, cin: ChannelLayout, block: int):
        super().__init__()
        init = module.init_channels
        half = ChannelLayout([init], block)
        self.out_layout = _ghost_layout(module.out_channels, block)
        conv, bn, rest = _conv_bn(module.primary_conv)
        self.primary = _dense(conv, bn, cin, half)
        conv, bn, rest2 = _conv_bn(module.cheap_operation)
        self.cheap = _depthwise(conv, bn, half)
        if isinstance(module, GhostModuleV3):
            self.act1 = module.primary_activation or nn.Identity()
            self.act2 = module.cheap_activation or nn.Identity()
        else:
            self.act1, self.act2 = _act_of(rest), _act_of(rest2)
        self.short_conv = None  # the reference's name, which INT8 layer groups look for
        if getattr(module, 'use_dfc', False):
            s = module.short_conv
            self.short_conv = nn.Sequential(_dense(s[0], s[1], cin, self.out_layout),
                                            _depthwise(s[2], s[3], self.out_layout),
                                            _depthwise(s[4], s[5], self.out_layout))

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.act1(self.primary(x))
        out = torch.cat([x1, self.act2(self.cheap(x1))], dim=1)
        return out if self.short_conv is None else dfc_gate(x, out, self.short_conv)


class _AlignedSE(nn.Module):

    def __init__(self, se: nn.Module, layout: ChannelLayout, block: int, expand: bool):
        super().__init__()
        reduced = ChannelLayout([se.conv_reduce.out_channels], block)
        self.conv_reduce = _dense(se.conv_reduce, None, layout, reduced)
        self.act1 = se.act1
        self.conv_expand = _dense(se.conv_expand, None, reduced, layout)
        self.expand = expand

    def forward(self, x: Tensor) -> Tensor:
        s = F.hardsigmoid(self.conv_expand(self.act1(self.conv_reduce(
            F.adaptive_avg_pool2d(x, 1)))))
        if self.expand:  # one shape for both sides of the multiply (a blocked Mul)
            s = F.interpolate(s, size=x.shape[-2:], mode='nearest')
        return x * s


class _AlignedBottleneck(nn.Module):

    def __init__(self, block_module: GhostBottleneck, cin: ChannelLayout, block: int,
                 expand_se: bool):
        super().__init__()
        m = block_module
        self.ghost1 = _AlignedGhost(m.ghost1, cin, block)
        mid = self.ghost1.out_layout
        self.conv_dw = None
        if m.stride > 1:
            self.conv_dw = _depthwise(m.conv_dw, getattr(m, 'bn_dw', None), mid)
        self.se = _AlignedSE(m.se, mid, block, expand_se) if m.se is not None else None
        self.ghost2 = _AlignedGhost(m.ghost2, mid, block)
        self.out_layout = self.ghost2.out_layout
        if len(m.shortcut) == 0:
            if cin.pos.tolist() != self.out_layout.pos.tolist() or \
                    cin.width != self.out_layout.width:
                raise ValueError('an identity shortcut needs the same layout in and out')
            self.shortcut = nn.Identity()
        else:
            s = m.shortcut
            self.shortcut = nn.Sequential(_depthwise(s[0], s[1], cin),
                                          _dense(s[2], s[3], cin, self.out_layout))

    def forward(self, x: Tensor) -> Tensor:
        out = self.ghost1(x)
        if self.conv_dw is not None:
            out = self.conv_dw(out)
        if self.se is not None:
            out = self.se(out)
        return self.ghost2(out) + self.shortcut(x)


class AlignedGhostNet(nn.Module):
    """A GhostNet backbone in the aligned layout (built by :func:`align_channels`); it
    returns what the backbone returns."""

    def __init__(self, backbone: nn.Module, block: int, expand_se: bool = True):
        super().__init__()
        self.block = block
        self.out_indices = tuple(backbone.out_indices)
        layout = _ghost_layout(backbone.conv_stem.out_channels, block)
        self.stem = _dense(backbone.conv_stem, backbone.bn1, ChannelLayout.dense(3), layout)
        self.act1 = backbone.act1
        stages, layouts = [], []
        last = len(backbone.blocks) - 1
        for i, stage in enumerate(backbone.blocks[:max(self.out_indices) + 1]):
            if i == last:  # the final 1x1 ConvBnAct, dense out
                final = stage[0]
                out = ChannelLayout.dense(final.conv.out_channels)
                stages.append(nn.Sequential(_dense(final.conv, final.bn1, layout, out),
                                            final.act1))
                layout = out
            else:
                blocks = []
                for b in stage:
                    blocks.append(_AlignedBottleneck(b, layout, block, expand_se))
                    layout = blocks[-1].out_layout
                stages.append(nn.Sequential(*blocks))
            layouts.append(layout)
        self.stages = nn.ModuleList(stages)
        for i, lay in enumerate(layouts):
            self.register_buffer(f'keep_{i}', None if lay.is_dense else lay.pos,
                                 persistent=False)

    def forward(self, x: Tensor) -> tuple:
        x = self.act1(self.stem(x))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                keep = getattr(self, f'keep_{i}')
                outs.append(x if keep is None else x.index_select(1, keep))
        return tuple(outs)


def alignable(backbone: nn.Module) -> bool:
    """Whether :func:`align_channels` can rewrite ``backbone``: a deploy-form GhostNet whose
    Ghost modules concatenate two halves (GhostNet, GhostNetV2, GhostNetV3, GhostNetV3-Small;
    RepGhostNet's modules add, so its channels are already whole)."""
    from mmghost.models.backbones.base_ghostnet import BaseGhostNet
    from mmghost.models.layers.reparam import pending_reparam_modules
    if not isinstance(backbone, BaseGhostNet) or pending_reparam_modules(backbone):
        return False
    for m in backbone.modules():
        if isinstance(m, GhostBottleneck):
            for g in (m.ghost1, m.ghost2):
                if not isinstance(g, (GhostModule, GhostModuleV3)):
                    return False
                if getattr(g, 'ratio', 2) != 2 or getattr(g, 'groups', 1) != 1:
                    return False
    return True


@torch.no_grad()
def align_channels(backbone: nn.Module, block: int = 16,
                   expand_se: bool = True) -> AlignedGhostNet:
    """The aligned form of a deploy-form GhostNet backbone (see the module docstring).

    Args:
        backbone (nn.Module): A GhostNet, GhostNetV2, GhostNetV3 or GhostNetV3-Small backbone
            in deploy form, in eval mode (its BNs are folded with their running statistics).
        block (int): Channel block (ONNX Runtime's: 16 with AVX-512, 8 with AVX2; 16 fits
            both). Defaults to 16.
        expand_se (bool): Upsample the SE gate to its map's size before the multiply.
            Defaults to True.

    Returns:
        AlignedGhostNet: A new module; ``backbone`` is not changed.

    Raises:
        ValueError: ``backbone`` is not such a backbone, or ``block`` is not a positive int.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f'block must be a positive int (8 or 16), got {block!r}')
    if not alignable(backbone):
        raise ValueError(
            f'{type(backbone).__name__} cannot be channel-aligned: it takes a GhostNet, '
            f'GhostNetV2, GhostNetV3 or GhostNetV3-Small backbone in deploy form '
            f'(switch_to_deploy first) whose Ghost modules have ratio 2')
    if backbone.training:
        raise ValueError('align_channels folds BNs with their running statistics: call '
                         '.eval() on the backbone first')
    return AlignedGhostNet(backbone, block, expand_se).eval()


def align_backbones(module: nn.Module, block: int = ORT_BLOCK) -> int:
    """Replace, in place, every GhostNet backbone among ``module``'s descendants that
    :func:`alignable` accepts by its aligned form; returns how many were replaced (none for
    RepGhostNet, MobileNets, ...; ``block=0`` replaces none).

    Raises:
        ValueError: ``block`` is not 0 or a positive int.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 0:
        raise ValueError(f'the channel block must be 0 (plain layout) or a positive int such '
                         f'as 16, got {block!r}')
    if block == 0:
        return 0
    count = 0
    for name, child in list(module.named_children()):
        if alignable(child):
            setattr(module, name, align_channels(child.eval(), block))
            count += 1
        else:
            count += align_backbones(child, block)
    return count
