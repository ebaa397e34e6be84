"""One inference of a benchmark row as a no-argument function: eager PyTorch (any part, dtype,
device, layout), an exported form (the deploy form exported to ONNX, optionally INT8, run by
ONNX Runtime or OpenVINO, or converted to ncnn), and the matmul of the FLOP floor."""
import tempfile
from typing import Callable, Tuple

import torch
import torch.nn as nn

from mmghost.models.utils import TensorModeWrapper, det_samples, is_detector, seeded_input
from .spec import EXPORTED, Unsupported, first_line

__all__ = ['make_call', 'make_exported_call', 'MATMUL', 'matmul_call']

#: The FLOP floor's matmul: ``MATMUL x MATMUL`` fp32.
MATMUL = 2048


def make_call(model: nn.Module, part: str, batch: int, shape: Tuple[int, int],
              dtype: torch.dtype = torch.float32, device='cpu',
              channels_last: bool = False) -> Callable[[], object]:
    """A no-argument function running one inference of ``part`` on a fixed random input.

    ``model`` must already be in ``dtype`` on ``device``
    (:func:`mmghost.analysis.build.prepare_model`). Detectors run ``predict`` (network + box
    decoding + NMS); other OpenMMLab models ``mode='tensor'``; timm models their forward
    (``forward_features`` for ``part='backbone'``).
    """
    inputs = seeded_input(shape, batch, dtype=dtype, device=device,
                          channels_last=channels_last)
    if part == 'backbone':
        if hasattr(model, 'backbone'):
            return lambda: model.backbone(inputs)
        return lambda: model.forward_features(inputs)
    if is_detector(model):
        samples = det_samples(inputs)
        return lambda: model.predict(inputs, samples)
    if hasattr(model, 'data_preprocessor'):
        return lambda: model(inputs, mode='tensor')
    return lambda: model(inputs)


def make_exported_call(model: nn.Module, form: str, part: str, batch: int,
                       shape: Tuple[int, int], threads: int, workdir: str,
                       device='cpu') -> Tuple[Callable[[], object], dict]:
    """Export ``part`` of the (deploy-form) ``model`` at this batch and shape into ``workdir``
    (a detector's ``model`` part whole, with decoding and NMS; INT8 forms quantized on 8
    seeded random batches with the default layers kept in float) and return a function running
    it in the form's runtime, and ``dict(provider, path, backend, shape)`` for timing it in a
    torch-free process."""
    from mmghost.export import export_detector, export_ncnn, export_onnx
    from mmghost.quantize import quantize_model
    from mmghost.reparameterize.aligned_form import ORT_BLOCK
    from mmghost.runtime.backends import create_backend
    runtime, precision = EXPORTED[form]
    # GhostNets channel-aligned for ONNX Runtime's fp32 kernels (pytorch2onnx.py's default);
    # plain for OpenVINO and for INT8, which run the padded channels slower (docs/deployment.md).
    align = ORT_BLOCK if form == 'ort' else 0
    suffix = '.ncnn.param' if runtime == 'ncnn' else '.onnx'
    path = tempfile.NamedTemporaryFile(suffix=suffix, dir=workdir, delete=False).name
    try:
        if runtime == 'ncnn':  # pnnx traces the deploy form (a detector: to its head's maps)
            if not (hasattr(model, 'data_preprocessor') or hasattr(model, 'out_indices')):
                raise Unsupported('ncnn rows take OpenMMLab models (mmghost / mmdet / '
                                  'mmpretrain configs)')
            export_ncnn(model.cpu().float(), path, shape, dynamic_hw=False,
                        backbone_only=part == 'backbone')
        # What tools/deployment/pytorch2onnx.py writes; timm models as they are called.
        elif part == 'model' and is_detector(model):
            export_detector(model.cpu().float(), path, shape, dynamic_batch=False,
                            batch_size=batch, align_channels=align)
        else:
            openmmlab = hasattr(model, 'data_preprocessor') or hasattr(model, 'out_indices')
            net = model.cpu().float() if openmmlab or part == 'model' else \
                TensorModeWrapper(model, part)
            export_onnx(net, path, shape, dynamic_batch=False, batch_size=batch,
                        backbone_only=openmmlab and part == 'backbone', align_channels=align)
        if precision == 'int8':
            out = path[:-5] + ('-int8.xml' if runtime == 'openvino' else '-int8.onnx')
            calibration = [seeded_input(shape, batch, seed=i).numpy() for i in range(8)]
            quantize_model(path, out, calibration, backend=runtime)
            path = out
    except ImportError as e:
        raise Unsupported(f'{runtime} is not installed: {e}') from e
    except Unsupported:
        raise
    except Exception as e:  # an op without an ONNX export, a quantizer failure
        raise Unsupported(f'export failed: {type(e).__name__}: {first_line(e)}') from e
    try:
        run = create_backend(runtime, path, threads, device)
    except ImportError as e:
        raise Unsupported(f'{runtime} is not installed: {e}') from e
    except Exception as e:  # noqa: BLE001  (an op the runtime cannot load)
        raise Unsupported(f'{runtime}: {type(e).__name__}: {first_line(e)}') from e
    x = seeded_input(shape, batch).numpy()
    provider = getattr(getattr(run, 'session', None), 'get_providers', lambda: [runtime])()[0]
    return (lambda: run(x)), dict(provider=provider, path=path, backend=runtime,
                                  shape=list(x.shape))


def matmul_call() -> Callable[[], object]:
    """The FLOP floor's reference: one ``MATMUL x MATMUL`` fp32 matmul (``2 MATMUL^3`` FLOPs)."""
    a, b = torch.randn(MATMUL, MATMUL), torch.randn(MATMUL, MATMUL)
    return lambda: torch.mm(a, b)
