"""Building a benchmark's models (a config's, of any OpenMMLab library, or timm's) and putting
them in each eager form: training, deploy (re-parameterized) and inference (deploy, BNs folded,
NHWC), in a dtype on a device."""
import copy

import torch
import torch.nn as nn

from mmghost.models.layers import switch_to_deploy
from mmghost.models.utils import PARTS, build_from_config, load_config
from .spec import BenchmarkError

__all__ = ['DTYPES', 'build_model', 'to_deploy', 'to_inference', 'prepare_model',
           'check_part', 'resolve_device']

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def _import_timm(name: str):
    try:
        import timm
        import timm.utils  # noqa: F401
    except ImportError as e:
        raise BenchmarkError(f'{name}: timm models need timm, which is not installed '
                             f'(pip install timm): {e}') from e
    return timm


def build_model(name: str, deploy: bool = False) -> nn.Module:
    """The model of a config (no pretrained weights) or a timm model (random weights), in eval
    mode; ``deploy=True`` re-parameterizes it (:func:`to_deploy`)."""
    if name.startswith('timm:'):
        timm = _import_timm(name)
        arch = name[len('timm:'):].strip(':')
        try:
            model = timm.create_model(arch, pretrained=False)
        except RuntimeError as e:  # unknown model
            raise BenchmarkError(f'{name}: {e}') from e
    else:
        model = build_from_config(load_config(name))
    model.eval()
    return to_deploy(model, name) if deploy else model


def to_deploy(model: nn.Module, name: str = '') -> nn.Module:
    """Re-parameterize in place: ``timm.utils.reparameterize_model`` for ``timm:`` models,
    else :func:`mmghost.switch_to_deploy`, which fuses mmghost blocks and calls
    ``switch_to_deploy()`` on other modules having it (mmpretrain's MobileOne, RepVGG, ...)."""
    if name.startswith('timm:'):
        timm = _import_timm(name)
        return timm.utils.reparameterize_model(model, inplace=True).eval()
    return switch_to_deploy(model).eval()


def to_inference(model: nn.Module, name: str = '') -> nn.Module:
    """The fastest eager form, in place: :func:`to_deploy`, every BN after a conv folded into
    it (mmcv's ``fuse_conv_bn``) and the weights NHWC (:func:`mmghost.optimize_for_inference`
    for any model, timm's included)."""
    from mmcv.cnn import fuse_conv_bn
    with torch.no_grad():
        fuse_conv_bn(to_deploy(model, name))
    return model.to(memory_format=torch.channels_last).eval()


def check_part(model: nn.Module, part: str) -> None:
    """Refuse a part the model does not have (``backbone`` of a model without one)."""
    if part not in PARTS:
        raise BenchmarkError(f'unknown part {part!r}; use model or backbone')
    if part == 'backbone' and not (hasattr(model, 'backbone')
                                   or hasattr(model, 'forward_features')):
        raise BenchmarkError(f'{type(model).__name__} has no backbone (nor forward_features)')


def prepare_model(model: nn.Module, dtype: torch.dtype = torch.float32, device='cpu',
                  channels_last: bool = False) -> nn.Module:
    """A copy of ``model`` in ``dtype`` on ``device`` (and NHWC); the original is untouched."""
    m = copy.deepcopy(model).to(device=device, dtype=dtype)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m.eval()


def resolve_device(device) -> str:
    """``None``/``'auto'``: CUDA when available, else CPU; a CUDA device that is not here is
    refused."""
    if device in (None, 'auto'):
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise BenchmarkError(f'--device {device}: CUDA is not available here')
    return str(device)
