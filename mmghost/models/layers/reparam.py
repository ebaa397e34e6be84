"""The one implementation of structural re-parameterization used by mmghost.

GhostNetV3, RepGhostNet and GhostNetV3-Small all train with several *linear* branches in
parallel (conv+BN pairs of different kernel sizes, identity+BN) and run with a single conv that
carries a bias. The math is the same everywhere:

* a conv (no bias) followed by BN in eval mode equals one conv with weight ``W * t`` and bias
  ``beta - mean * t``, with ``t = gamma / sqrt(var + eps)``;
* an identity branch is a conv whose kernel has a single 1 at the centre tap, linking output
  channel ``c`` to input channel ``c`` of its group;
* a ``1x1`` (or any smaller, odd) kernel equals a ``kxk`` one zero-padded around its centre,
  provided both branches use "same" padding at the same stride;
* branches that are summed before any non-linearity fuse by summing kernels and biases.

Blocks own their ``switch_to_deploy`` (mmpretrain's RepVGG/MobileOne style) and call
:func:`fuse_branches`; :func:`switch_to_deploy` converts every such block of any model.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'fuse_conv_bn', 'identity_kernel', 'pad_kernel', 'fuse_branches', 'RepBranch',
    'RepModuleMixin', 'switch_to_deploy', 'is_deployed', 'pending_reparam_modules',
    'check_num_branches'
]

#: One linear branch: ``(kernel, bn)``. ``kernel=None`` marks an identity branch;
#: ``bn=None`` marks a branch without normalization (plain conv or plain identity).
RepBranch = Tuple[Optional[Tensor], Optional[nn.Module]]


def fuse_conv_bn(kernel: Tensor, bn: Optional[nn.Module]) -> Tuple[Tensor, Tensor]:
    """Fold an eval-mode BatchNorm into the (bias-free) conv kernel before it.

    Args:
        kernel (Tensor): Conv weight of shape ``(C_out, C_in / groups, kh, kw)``.
        bn (nn.Module, optional): A ``_BatchNorm`` over ``C_out`` channels with running
            statistics, or None for a branch without normalization.

    Returns:
        tuple[Tensor, Tensor]: The fused kernel and its bias of shape ``(C_out,)``.
    """
    if bn is None:
        return kernel, kernel.new_zeros(kernel.shape[0])
    if not isinstance(bn, _BatchNorm):
        raise TypeError(f'can only fuse BatchNorm layers, got {type(bn).__name__}')
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError('cannot fuse a BatchNorm built with track_running_stats=False: '
                         'it has no running statistics to fold into the conv')
    std = (bn.running_var + bn.eps).sqrt()
    gamma = bn.weight if bn.affine else torch.ones_like(std)
    beta = bn.bias if bn.affine else torch.zeros_like(std)
    t = gamma / std
    return kernel * t.reshape(-1, 1, 1, 1), beta - bn.running_mean * t


def identity_kernel(channels: int,
                    in_channels: int,
                    groups: int,
                    kernel_size: int,
                    dtype: torch.dtype = torch.float32,
                    device: Optional[torch.device] = None) -> Tensor:
    """Kernel of a conv that copies input channel ``c`` to output channel ``c``.

    Works for dense (``groups=1``, an identity matrix at the centre tap), depth-wise
    (``groups=channels``) and grouped convs. Needs ``channels == in_channels``.
    """
    if channels != in_channels:
        raise ValueError(f'an identity branch needs as many output as input channels, got '
                         f'{channels} and {in_channels}')
    if kernel_size % 2 != 1:
        raise ValueError(f'identity kernels need an odd kernel size, got {kernel_size}')
    per_group = in_channels // groups
    kernel = torch.zeros(channels, per_group, kernel_size, kernel_size, dtype=dtype,
                         device=device)
    idx = torch.arange(channels, device=device)
    kernel[idx, idx % per_group, kernel_size // 2, kernel_size // 2] = 1
    return kernel


def pad_kernel(kernel: Tensor, kernel_size: int) -> Tensor:
    """Zero-pad a smaller odd kernel around its centre to ``kernel_size x kernel_size``."""
    kh, kw = kernel.shape[-2:]
    if kh > kernel_size or kw > kernel_size or (kernel_size - kh) % 2 or (kernel_size - kw) % 2:
        raise ValueError(f'cannot centre a {kh}x{kw} kernel in {kernel_size}x{kernel_size}')
    ph, pw = (kernel_size - kh) // 2, (kernel_size - kw) // 2
    return F.pad(kernel, [pw, pw, ph, ph])


def fuse_branches(branches: Iterable[RepBranch], kernel_size: int, channels: int,
                  in_channels: int, groups: int) -> Tuple[Tensor, Tensor]:
    """Fuse parallel linear branches into one ``kernel_size`` conv with bias.

    Args:
        branches: ``(kernel, bn)`` pairs; ``kernel=None`` is an identity branch.
            All branches must see the same input, use "same" padding and the same stride, and
            be summed before any non-linearity.
        kernel_size (int): Kernel size of the fused conv.
        channels (int): Output channels of the fused conv.
        in_channels (int): Input channels of the fused conv.
        groups (int): Groups of the fused conv.

    Returns:
        tuple[Tensor, Tensor]: Fused kernel ``(channels, in_channels // groups, k, k)`` and bias.
    """
    weight: Optional[Tensor] = None
    bias: Optional[Tensor] = None
    ref: Optional[Tensor] = None
    branches = list(branches)
    for kernel, _ in branches:
        if kernel is not None:
            ref = kernel
            break
    if ref is None:  # identity-only: take dtype/device from the BN
        bn = next((b for _, b in branches if b is not None), None)
        ref = bn.running_var if bn is not None else torch.empty(0)
    for kernel, bn in branches:
        if kernel is None:
            k = identity_kernel(channels, in_channels, groups, 1, dtype=ref.dtype,
                                device=ref.device)
        else:
            k = kernel
        k, b = fuse_conv_bn(k, bn)
        k = pad_kernel(k, kernel_size)
        weight = k if weight is None else weight + k
        bias = b if bias is None else bias + b
    if weight is None:
        raise ValueError('nothing to fuse: no branches given')
    return weight, bias


def check_num_branches(value) -> int:
    """``num_conv_branches`` of a re-parameterizable block: an int >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'num_conv_branches must be an int >= 1, got {value!r}')
    return value


def conv_from_fused(weight: Tensor, bias: Tensor, stride: int = 1, padding: int = 0,
                    dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    """A plain ``nn.Conv2d`` (with bias) holding a fused kernel and bias."""
    conv = nn.Conv2d(
        weight.shape[1] * groups,
        weight.shape[0],
        weight.shape[-1],
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=True).to(device=weight.device, dtype=weight.dtype)
    conv.weight.data.copy_(weight.detach())
    conv.bias.data.copy_(bias.detach())
    return conv


class RepModuleMixin:
    """A block with training-time branches.

    Subclasses set ``self.deploy`` and implement ``_fuse()``, which replaces their own
    training branches by deploy modules. ``switch_to_deploy()`` fuses the blocks nested in
    this one first, then its own branches, so that a block said to be deployed is deployed
    through and through (a GhostBottleneck's method once fused only its depth-wise conv and
    left its Ghost modules' branches); it is idempotent. :func:`switch_to_deploy` walks a
    whole model, foreign blocks included.
    """

    deploy: bool = False

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        if self.deploy:
            return
        for module in list(self.modules())[1:]:
            if isinstance(module, RepModuleMixin):
                module.switch_to_deploy()
        self._fuse()
        self.deploy = True


def _foreign_switch(module: nn.Module) -> bool:
    fn = getattr(module, 'switch_to_deploy', None)
    return callable(fn) and not isinstance(module, RepModuleMixin)


@torch.no_grad()
def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Convert every re-parameterizable block of ``model`` to its deploy form, in place.

    Works on any model: a backbone, an mmpretrain classifier, an mmdet detector. mmghost
    blocks fuse themselves; other modules that expose ``switch_to_deploy`` (mmpretrain's
    RepVGG, MobileOne, ...) are called once at their outermost level. Running statistics are
    used as they are, so call it after training (the model's train/eval mode is kept).
    Calling it again is a no-op.

    Returns:
        nn.Module: ``model`` itself.
    """
    if _foreign_switch(model):
        model.switch_to_deploy()
        return model
    handled: List[str] = []
    for name, module in list(model.named_modules()):
        if any(name.startswith(h + '.') for h in handled):
            continue
        if isinstance(module, RepModuleMixin):
            module.switch_to_deploy()
        elif _foreign_switch(module):
            module.switch_to_deploy()
            handled.append(name)
    return model


def is_deployed(model: nn.Module) -> bool:
    """True when ``model`` holds no mmghost block left in training form."""
    return all(m.deploy for m in model.modules() if isinstance(m, RepModuleMixin))


def pending_reparam_modules(model: nn.Module) -> List[str]:
    """Names of the blocks :func:`switch_to_deploy` would still fuse (mmghost blocks in
    training form, and other modules exposing ``switch_to_deploy`` that are not ``deploy``)."""
    names = []
    for name, m in model.named_modules():
        if isinstance(m, RepModuleMixin):
            if not m.deploy:
                names.append(name)
        elif _foreign_switch(m) and not getattr(m, 'deploy', False):
            names.append(name)
    return names


def rep_branches(convs: Sequence[nn.Module],
                 scale: Optional[nn.Module] = None,
                 skip: Optional[nn.Module] = None) -> List[RepBranch]:
    """The :func:`fuse_branches` input of a V3-style block: conv-BN branches (modules with
    ``.conv`` and ``.bn``), an optional conv-BN scale branch and an optional BN identity."""
    convs = list(convs) + ([scale] if scale is not None else [])
    branches: List[RepBranch] = [(m.conv.weight, m.bn) for m in convs]
    if skip is not None:
        branches.append((None, skip))
    return branches
