"""Mixed-precision training on CPU: bf16 autocast without loss scaling."""
import functools
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast

from mmghost.registry import OPTIM_WRAPPERS


_LOW = (torch.bfloat16, torch.float16)


def _float_inputs(fn, restore_dtype: bool = False):
    """Run ``fn`` on float32 copies of low-precision CPU tensor arguments (autocast-style);
    with ``restore_dtype`` the result gets the first argument's dtype back."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        def up(t):
            return t.float() if torch.is_tensor(t) and t.dtype in _LOW and \
                t.device.type == 'cpu' else t
        out = fn(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})
        first = args[0] if args else None
        if restore_dtype and torch.is_tensor(first) and torch.is_tensor(out) and \
                first.dtype in _LOW and first.device.type == 'cpu':
            out = out.to(first.dtype)
        return out

    wrapper._mmghost_float_inputs = True
    return wrapper


def enable_cpu_autocast_for_mmcv_ops() -> None:
    """Let mmcv's CPU NMS and RoIAlign kernels run under bf16/fp16 autocast (idempotent).

    Those kernels are float32/float64-only C++ functions that autocast does not know, so
    two-stage detectors (RPN proposals -> NMS, RoIAlign on bf16 FPN features) stop with
    "expected scalar type Float but found BFloat16". Their low-precision CPU inputs are cast
    to float32 first, as autocast does for its own float32-only ops; gradients flow back
    through the cast. CUDA inputs are untouched.
    """
    import importlib
    nms_module = importlib.import_module('mmcv.ops.nms')  # the modules, not the functions
    roi_align_module = importlib.import_module('mmcv.ops.roi_align')
    forward = nms_module.NMSop.forward
    if not getattr(forward, '_mmghost_float_inputs', False):
        nms_module.NMSop.forward = staticmethod(_float_inputs(forward))
    if not getattr(roi_align_module.roi_align, '_mmghost_float_inputs', False):
        # RoI features go back to the features' dtype: mmdet writes them into a tensor of it.
        roi_align_module.roi_align = _float_inputs(roi_align_module.roi_align,
                                                   restore_dtype=True)


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast('cpu', dtype)``.

    What ``tools/train.py --amp`` uses on a machine without CUDA (mmengine's
    ``AmpOptimWrapper`` requires a GPU). bfloat16 has float32's exponent range, so no loss
    scaling is needed; oneDNN runs convolutions and matmuls in bf16 (fast on CPUs with
    AVX512-BF16/AMX), while autocast keeps reductions, norms and losses in float32.
    Parameters, gradients and the optimizer state stay float32. mmcv's CPU NMS and RoIAlign
    get float32 inputs (:func:`enable_cpu_autocast_for_mmcv_ops`), so two-stage detectors
    train too.

    Args:
        dtype (str | torch.dtype): ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in ('bfloat16', 'float16'):
                raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}")
            dtype = getattr(torch, dtype)
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f'dtype must be torch.bfloat16 or torch.float16, got {dtype!r}')
        self.cast_dtype = dtype
        enable_cpu_autocast_for_mmcv_ops()

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast(device_type='cpu', dtype=self.cast_dtype):
            yield
