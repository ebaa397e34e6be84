"""Ghost modules of the GhostNet family.

* :class:`GhostModule` (GhostNet V1): a thin primary conv makes ``ceil(C_out / ratio)``
  intrinsic maps, a cheap depth-wise conv makes the "ghost" maps, and both are concatenated.
  Its constructor takes a conv's arguments, so it is a drop-in conv through ``conv_cfg``.
* :class:`GhostModuleV2` adds the DFC attention gate (GhostNetV2).
* :class:`GhostModuleV3` trains both convs with parallel re-parameterizable branches
  (GhostNetV3) and fuses them into single convs with :meth:`switch_to_deploy`.
* :class:`RepGhostModule` (RepGhostNet) replaces the concatenation by a BN "identity" branch
  that is fused into the cheap depth-wise conv.

State-dict keys follow the reference implementations, so published checkpoints map 1:1.
"""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmghost.registry import MODELS
from .reparam import (RepModuleMixin, check_num_branches, conv_from_fused, fuse_branches,
                      rep_branches)

__all__ = ['GhostModule', 'GhostModuleV2', 'GhostModuleV3', 'RepGhostModule', 'ConvBN',
           'build_dfc', 'dfc_gate']

_IntPair = Union[int, Sequence[int]]


def _single(value: _IntPair, name: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ValueError(f'Ghost modules need square {name}, got {tuple(value)}')
        value = value[0]
    return int(value)


def _act(act_cfg: Optional[dict]) -> Optional[nn.Module]:
    return None if act_cfg is None else build_activation_layer(act_cfg)


class ConvBN(nn.Sequential):
    """Conv (no bias) followed by a norm layer; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, groups: int = 1, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.add_module('conv', nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                          padding, groups=groups, bias=False))
        self.add_module('bn', build_norm_layer(norm_cfg, out_channels)[1])


def build_dfc(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
              norm_cfg: dict = dict(type='BN')) -> nn.Sequential:
    """The ``short_conv`` branch of GhostNetV2's decoupled fully connected (DFC) attention.

    A conv (the primary conv's kernel and stride) and BN, then a horizontal ``1x5`` and a
    vertical ``5x1`` depth-wise conv, each with BN, and no activation. Keys ``short_conv.0-5``.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        build_norm_layer(norm_cfg, out_channels)[1],
        nn.Conv2d(out_channels, out_channels, (1, 5), 1, (0, 2), groups=out_channels,
                  bias=False),
        build_norm_layer(norm_cfg, out_channels)[1],
        nn.Conv2d(out_channels, out_channels, (5, 1), 1, (2, 0), groups=out_channels,
                  bias=False),
        build_norm_layer(norm_cfg, out_channels)[1],
    )


def dfc_gate(x: Tensor, out: Tensor, short_conv: nn.Module) -> Tensor:
    """Gate ``out`` with DFC attention computed from the module input ``x``.

    ``x`` is average-pooled by 2 (skipped for maps smaller than 2 px, where the reference code
    crashes), passed through ``short_conv``, squashed by a sigmoid and upsampled to ``out``'s
    size with legacy ``nearest`` interpolation (source index ``floor(dst * in / out)``, i.e.
    ONNX ``Resize`` with ``asymmetric``/``floor``). Works for any H x W, square or not.
    """
    if x.shape[-2] >= 2 and x.shape[-1] >= 2:
        x = F.avg_pool2d(x, kernel_size=2, stride=2)
    gate = torch.sigmoid(short_conv(x))
    return out * F.interpolate(gate, size=out.shape[-2:], mode='nearest')


@MODELS.register_module()
class GhostModule(BaseModule):
    """Ghost module of GhostNet V1, usable as a drop-in conv.

    ``conv_cfg=dict(type='mmghost.GhostModule')`` in an OpenMMLab model (for example
    mmpretrain's ResNet) replaces every conv by a Ghost module with the same in/out channels,
    kernel size, stride, padding and dilation.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size of the primary conv. Defaults to 1.
        stride (int): Stride of the primary conv. Defaults to 1.
        padding (int, optional): Padding of the primary conv; ``dilation * (k // 2)`` when None.
        dilation (int): Dilation of the primary conv. Defaults to 1.
        groups (int): Groups of the primary conv. Defaults to 1.
        bias (bool): Accepted for conv compatibility. Both halves end in a BN whose shift
            already plays the role of a bias, so no extra bias is created. Defaults to False.
        ratio (int): ``C_out / intrinsic channels`` (``s`` in the paper). Defaults to 2.
        dw_size (int): Kernel size of the cheap depth-wise conv (``d``). Defaults to 3.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after each half (``relu=True`` in the reference);
            None for a linear module. Defaults to None.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: _IntPair = 1,
                 stride: _IntPair = 1,
                 padding: Optional[_IntPair] = None,
                 dilation: _IntPair = 1,
                 groups: int = 1,
                 bias: Union[bool, str] = False,
                 ratio: int = 2,
                 dw_size: int = 3,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        kernel_size = _single(kernel_size, 'kernel_size')
        stride = _single(stride, 'stride')
        dilation = _single(dilation, 'dilation')
        padding = dilation * (kernel_size // 2) if padding is None else _single(
            padding, 'padding')
        if int(ratio) != ratio or ratio < 2:
            raise ValueError(f'ratio must be an integer >= 2, got {ratio}')
        if dw_size % 2 != 1:
            raise ValueError(f'dw_size must be odd, got {dw_size}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.ratio = int(ratio)
        self.dw_size = dw_size
        self.init_channels = math.ceil(out_channels / self.ratio)
        self.new_channels = self.init_channels * (self.ratio - 1)
        if self.init_channels % groups or in_channels % groups:
            raise ValueError(f'groups={groups} must divide in_channels={in_channels} and the '
                             f'{self.init_channels} intrinsic channels')
        self._build(norm_cfg, act_cfg)

    def _build(self, norm_cfg: dict, act_cfg: Optional[dict]) -> None:
        primary = [
            nn.Conv2d(self.in_channels, self.init_channels, self.kernel_size, self.stride,
                      self.padding, self.dilation, self.groups, bias=False),
            build_norm_layer(norm_cfg, self.init_channels)[1]
        ]
        cheap = [
            nn.Conv2d(self.init_channels, self.new_channels, self.dw_size, 1,
                      self.dw_size // 2, groups=self.init_channels, bias=False),
            build_norm_layer(norm_cfg, self.new_channels)[1]
        ]
        if act_cfg is not None:
            primary.append(build_activation_layer(act_cfg))
            cheap.append(build_activation_layer(act_cfg))
        self.primary_conv = nn.Sequential(*primary)
        self.cheap_operation = nn.Sequential(*cheap)

    def _ghost(self, x: Tensor) -> Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        out = torch.cat([x1, x2], dim=1)
        return out if out.shape[1] == self.out_channels else out[:, :self.out_channels]

    def forward(self, x: Tensor) -> Tensor:
        return self._ghost(x)


@MODELS.register_module()
class GhostModuleV2(GhostModule):
    """Ghost module of GhostNetV2: a :class:`GhostModule` gated by DFC attention.

    Args:
        use_dfc (bool): Gate the output with DFC attention (:func:`dfc_gate`) computed from
            the module input (``mode='attn'`` in the reference). Defaults to True.
        Other args: see :class:`GhostModule`.
    """

    def __init__(self, in_channels: int, out_channels: int, *args, use_dfc: bool = True,
                 norm_cfg: dict = dict(type='BN'), **kwargs):
        super().__init__(in_channels, out_channels, *args, norm_cfg=norm_cfg, **kwargs)
        self.use_dfc = use_dfc
        if use_dfc:
            self.short_conv = build_dfc(in_channels, out_channels, self.kernel_size,
                                        self.stride, norm_cfg=norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        out = self._ghost(x)
        return dfc_gate(x, out, self.short_conv) if self.use_dfc else out


@MODELS.register_module()
class GhostModuleV3(RepModuleMixin, BaseModule):
    """Re-parameterizable Ghost module of GhostNetV3.

    In training form the primary conv is ``num_conv_branches`` parallel conv-BN branches (plus
    a BN identity branch when ``in_channels`` equals the intrinsic channels at stride 1, and a
    1x1 branch when the primary kernel is larger than 1); the cheap depth-wise conv is
    ``num_conv_branches`` DW conv-BN branches, a 1x1 depth-wise "scale" branch (``dw_scale``)
    and a BN identity branch. :meth:`switch_to_deploy` fuses each group into one conv with bias.

    The primary identity branch is fused as a ``1x1`` identity matrix; the reference code
    fuses it with the cheap op's shape and breaks (Efficient-AI-Backbones issue #265).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Primary conv kernel size. Defaults to 1.
        stride (int): Primary conv stride. Defaults to 1.
        dw_size (int): Cheap depth-wise kernel size. Defaults to 3.
        num_conv_branches (int): Parallel conv-BN branches per conv. Defaults to 3.
        dw_scale (bool): Add the 1x1 depth-wise scale branch to the cheap op. Defaults to True.
        use_dfc (bool): Gate the output with DFC attention. Defaults to False.
        deploy (bool): Build the fused form directly. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after each half; None for linear. Defaults to
            ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 dw_size: int = 3,
                 num_conv_branches: int = 3,
                 dw_scale: bool = True,
                 use_dfc: bool = False,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.dw_size = dw_size
        self.num_conv_branches = check_num_branches(num_conv_branches)
        self.dw_scale = dw_scale
        self.use_dfc = use_dfc
        self.deploy = deploy
        self.init_channels = math.ceil(out_channels / 2)
        self.new_channels = self.init_channels
        init, new = self.init_channels, self.new_channels

        self.primary_activation = _act(act_cfg)
        self.cheap_activation = _act(act_cfg)
        if deploy:
            self.primary_conv = nn.Sequential(
                nn.Conv2d(in_channels, init, kernel_size, stride, kernel_size // 2, bias=True))
            self.cheap_operation = nn.Sequential(
                nn.Conv2d(init, new, dw_size, 1, dw_size // 2, groups=init, bias=True))
        else:
            self.primary_rpr_skip = build_norm_layer(norm_cfg, in_channels)[1] \
                if in_channels == init and stride == 1 else None
            self.primary_rpr_conv = nn.ModuleList(
                ConvBN(in_channels, init, kernel_size, stride, kernel_size // 2,
                       norm_cfg=norm_cfg) for _ in range(self.num_conv_branches))
            self.primary_rpr_scale = ConvBN(in_channels, init, 1, stride, 0,
                                            norm_cfg=norm_cfg) if kernel_size > 1 else None
            self.cheap_rpr_skip = build_norm_layer(norm_cfg, init)[1]
            self.cheap_rpr_conv = nn.ModuleList(
                ConvBN(init, new, dw_size, 1, dw_size // 2, groups=init, norm_cfg=norm_cfg)
                for _ in range(self.num_conv_branches))
            self.cheap_rpr_scale = ConvBN(init, new, 1, 1, 0, groups=init,
                                          norm_cfg=norm_cfg) if dw_scale else None
        if use_dfc:
            self.short_conv = build_dfc(in_channels, out_channels, kernel_size, stride,
                                        norm_cfg=norm_cfg)

    @staticmethod
    def _sum(x: Tensor, skip: Optional[nn.Module], convs: nn.ModuleList,
             scale: Optional[nn.Module]) -> Tensor:
        out = skip(x) if skip is not None else None
        if scale is not None:
            s = scale(x)
            out = s if out is None else out + s
        for conv in convs:
            c = conv(x)
            out = c if out is None else out + c
        return out

    def forward(self, x: Tensor) -> Tensor:
        if self.deploy:
            x1 = self.primary_conv(x)
        else:
            x1 = self._sum(x, self.primary_rpr_skip, self.primary_rpr_conv,
                           self.primary_rpr_scale)
        if self.primary_activation is not None:
            x1 = self.primary_activation(x1)
        if self.deploy:
            x2 = self.cheap_operation(x1)
        else:
            x2 = self._sum(x1, self.cheap_rpr_skip, self.cheap_rpr_conv, self.cheap_rpr_scale)
        if self.cheap_activation is not None:
            x2 = self.cheap_activation(x2)
        out = torch.cat([x1, x2], dim=1)
        if out.shape[1] != self.out_channels:
            out = out[:, :self.out_channels]
        return dfc_gate(x, out, self.short_conv) if self.use_dfc else out

    def _fuse(self) -> None:
        init = self.init_channels
        branches = rep_branches(self.primary_rpr_conv, self.primary_rpr_scale,
                                self.primary_rpr_skip)
        w, b = fuse_branches(branches, self.kernel_size, init, self.in_channels, groups=1)
        self.primary_conv = nn.Sequential(
            conv_from_fused(w, b, self.stride, self.kernel_size // 2))

        branches = rep_branches(self.cheap_rpr_conv, self.cheap_rpr_scale, self.cheap_rpr_skip)
        w, b = fuse_branches(branches, self.dw_size, self.new_channels, init, groups=init)
        self.cheap_operation = nn.Sequential(
            conv_from_fused(w, b, 1, self.dw_size // 2, groups=init))
        for name in ('primary_rpr_skip', 'primary_rpr_conv', 'primary_rpr_scale',
                     'cheap_rpr_skip', 'cheap_rpr_conv', 'cheap_rpr_scale'):
            delattr(self, name)


@MODELS.register_module()
class RepGhostModule(RepModuleMixin, BaseModule):
    """Ghost module of RepGhostNet: feature reuse by a re-parameterizable identity branch.

    ``out = act(BN_dw(DWConv(x1)) + BN_id(x1))`` with ``x1 = act(BN(Conv1x1(x)))``; the
    identity branch is fused into the depth-wise conv by :meth:`switch_to_deploy`. As in the
    reference, the primary conv keeps its BN.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (there is no concatenation).
        kernel_size (int): Primary conv kernel size. Defaults to 1.
        dw_size (int): Cheap depth-wise kernel size. Defaults to 3.
        reparam_bn (bool): Identity branch with BN (the released models). Defaults to True.
        reparam_identity (bool): Extra plain identity branch (paper ablation). Defaults to
            False.
        deploy (bool): Build the fused form directly. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after the primary BN and after the sum; None for
            linear. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 dw_size: int = 3,
                 reparam_bn: bool = True,
                 reparam_identity: bool = False,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.dw_size = dw_size
        self.reparam_bn = reparam_bn
        self.reparam_identity = reparam_identity
        self.deploy = deploy
        primary = [
            nn.Conv2d(in_channels, out_channels, kernel_size, 1, kernel_size // 2, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1]
        ]
        if act_cfg is not None:
            primary.append(build_activation_layer(act_cfg))
        self.primary_conv = nn.Sequential(*primary)
        if deploy:
            self.cheap_operation = nn.Conv2d(out_channels, out_channels, dw_size, 1,
                                             dw_size // 2, groups=out_channels, bias=True)
        else:
            self.cheap_operation = nn.Sequential(
                nn.Conv2d(out_channels, out_channels, dw_size, 1, dw_size // 2,
                          groups=out_channels, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
            # ``fusion_bn.i`` holds the BN of identity branch i (None: no BN).
            fusion_bn = []
            if reparam_bn:
                fusion_bn.append(build_norm_layer(norm_cfg, out_channels)[1])
            if reparam_identity:
                fusion_bn.append(nn.Identity())
            self.fusion_bn = nn.Sequential(*fusion_bn)
        self.relu = _act(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        if not self.deploy:
            for bn in self.fusion_bn:
                x2 = x2 + bn(x1)
        return self.relu(x2) if self.relu is not None else x2

    def _fuse(self) -> None:
        branches = [(self.cheap_operation[0].weight, self.cheap_operation[1])]
        for bn in self.fusion_bn:
            branches.append((None, bn if not isinstance(bn, nn.Identity) else None))
        c = self.out_channels
        w, b = fuse_branches(branches, self.dw_size, c, c, groups=c)
        self.cheap_operation = conv_from_fused(w, b, 1, self.dw_size // 2, groups=c)
        del self.fusion_bn
