"""ONNX export of GhostNet-family classifiers and backbones (deploy form), and its check.

    from mmghost.utils.onnx import export_onnx, check_onnx
    info = export_onnx(model, 'ghostnetv3.onnx', shape=(224, 224), dynamic_hw=True)
    err = check_onnx('ghostnetv3.onnx', model, [torch.randn(2, 3, 97, 131)], rtol=1e-4)

What is exported
    The model's *deploy* form: a copy is re-parameterized (:func:`mmghost.switch_to_deploy`)
    first when it has branches to fuse; the caller's model is not modified. A classifier
    (mmpretrain ``ImageClassifier``) gives one output ``logits`` (``mode='tensor'``: the
    head's scores before softmax). ``backbone_only=True`` (or a bare backbone) exports the
    backbone with one output per ``out_indices`` entry, named ``stage{i}``.

Input and normalization
    The graph takes ``input``: float32 ``N x 3 x H x W`` that is *already normalized*. The
    ``data_preprocessor`` (``(pixel - mean) / std`` and the BGR->RGB swap) is not in the
    graph; its ``mean``, ``std`` and ``bgr_to_rgb`` are recorded in the ONNX
    ``metadata_props`` (read them with :func:`read_metadata`).

Exporter
    torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``), which
    needs no ``onnxscript``; opsets 11 to 20. GhostNetV2/V3's DFC gate (``F.interpolate``
    nearest after a 2x2 average pool that floors odd sizes) becomes ``AveragePool``
    (``ceil_mode=0``) and ``Resize`` with ``mode='nearest'``,
    ``coordinate_transformation_mode='asymmetric'``, ``nearest_mode='floor'`` and ``sizes``
    taken from the gated tensor's shape at run time: the exact equivalent of PyTorch's
    legacy nearest, so odd and non-square sizes match.

Dynamic H x W: the smallest input
    The DFC gate skips its average pool when a map is smaller than 2 px (PyTorch decides at
    run time). The exporter traces, so that decision is frozen at the export shape: a
    dynamic graph is exact only for inputs whose every DFC map is at least 2x2, i.e. H and W
    at least :func:`min_input_size` (33 for the ImageNet-layout GhostNetV2/V3, whose last
    DFC gates run at stride 32). :func:`export_onnx` refuses a smaller export shape and
    :func:`check_onnx` a smaller input; the bound is recorded as ``min_input_size``. A
    static graph (``dynamic_hw=False``) is exact at its export shape, whatever it is.
"""
import copy
import json
import os
import os.path as osp
import tempfile
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .ort_timing import ort_session

__all__ = [
    'OnnxExportModule', 'export_onnx', 'check_onnx', 'compare_onnx', 'ort_session',
    'read_metadata',
    'min_input_size', 'dfc_input_sizes', 'resize_attributes', 'INPUT_NAME', 'MIN_OPSET',
    'MAX_OPSET'
]

INPUT_NAME = 'input'
#: Resize with ``coordinate_transformation_mode`` and ``nearest_mode`` exists from opset 11;
#: the TorchScript exporter of torch 2.x writes opsets up to 20.
MIN_OPSET, MAX_OPSET = 11, 20

_Shape = Union[int, Sequence[int]]


def _hw(shape: _Shape, what: str = 'shape') -> Tuple[int, int]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape, shape)
    try:
        h, w = (int(v) for v in shape)
        ok = all(float(v) == int(v) and not isinstance(v, bool) for v in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or h < 1 or w < 1:
        raise ValueError(f'{what} must be (H, W) with positive integers, got {shape!r}')
    return h, w


def _is_detector(model: nn.Module) -> bool:
    from .deploy import is_detector
    return is_detector(model)


class OnnxExportModule(nn.Module):
    """What is exported: a classifier's logits, or a backbone's outputs as a tuple.

    Args:
        model (nn.Module): An mmpretrain classifier, a model with a ``backbone`` (with
            ``backbone_only``; detectors too), or a bare backbone.
        backbone_only (bool): Export the backbone of ``model``. Defaults to False (True is
            implied for a model without ``data_preprocessor``, i.e. a bare backbone).
    """

    def __init__(self, model: nn.Module, backbone_only: bool = False):
        super().__init__()
        is_openmmlab = hasattr(model, 'data_preprocessor')
        if not is_openmmlab:
            backbone_only = True
        if backbone_only:
            net = model.backbone if is_openmmlab and hasattr(model, 'backbone') else model
        else:
            if _is_detector(model):
                raise ValueError(
                    f'{type(model).__name__} is a detector: only its backbone can be exported '
                    f'(backbone_only=True / --backbone-only); the heads\' post-processing '
                    f'(box decoding, NMS) is not part of the ONNX graph here')
            if not hasattr(model, 'head'):
                raise ValueError(f'{type(model).__name__} has no classification head; export '
                                 f'its backbone with backbone_only=True')
            net = model
        self.net = net
        self.backbone_only = backbone_only
        if backbone_only:
            indices = getattr(net, 'out_indices', None)
            self.output_names = [f'stage{i}' for i in indices] if indices is not None else None
        else:
            self.output_names = ['logits']

    def forward(self, x: torch.Tensor):
        if not self.backbone_only:
            return self.net(x, mode='tensor')
        out = self.net(x)
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )

    @property
    def trunk(self) -> nn.Module:
        """The module holding the DFC gates (the classifier or the backbone)."""
        return self.net


def _as_export_module(model: nn.Module, backbone_only: bool) -> OnnxExportModule:
    if isinstance(model, OnnxExportModule):
        return model
    return OnnxExportModule(model, backbone_only)


def _dfc_modules(module: nn.Module) -> List[Tuple[str, nn.Module]]:
    return [(n, m) for n, m in module.named_modules()
            if getattr(m, 'use_dfc', False) and hasattr(m, 'short_conv')]


@torch.no_grad()
def dfc_input_sizes(model: nn.Module, shape: _Shape,
                    backbone_only: bool = False) -> List[Tuple[str, int, int]]:
    """``(module name, h, w)`` of the map every DFC gate pools, for one ``H x W`` input."""
    h, w = _hw(shape)
    wrapper = _as_export_module(model, backbone_only)
    sizes: List[Tuple[str, int, int]] = []
    hooks = [
        m.register_forward_pre_hook(
            lambda mod, args, name=name: sizes.append((name, *args[0].shape[-2:])))
        for name, m in _dfc_modules(wrapper)
    ]
    was_training = wrapper.net.training
    try:
        wrapper.eval()
        wrapper(torch.zeros(1, 3, h, w))
    finally:
        wrapper.net.train(was_training)
        for hook in hooks:
            hook.remove()
    return [(n, int(a), int(b)) for n, a, b in sizes]


def min_input_size(model: nn.Module, backbone_only: bool = False,
                   max_size: int = 4096) -> int:
    """Smallest H (and W) the exported graph is exact for and the model accepts.

    The larger of the backbone's total stride at its deepest output (smaller inputs are
    refused) and, with DFC attention, the size from which every DFC gate's input is at least
    2x2 (see the module docstring).
    """
    from mmghost.models.backbones.base_ghostnet import BaseGhostNet
    wrapper = _as_export_module(model, backbone_only)
    floor = max([m.stage_strides[max(m.out_indices)] for m in wrapper.modules()
                 if isinstance(m, BaseGhostNet)] or [1])
    if not _dfc_modules(wrapper):
        return floor

    def ok(s: int) -> bool:
        try:
            sizes = dfc_input_sizes(wrapper, s)
        except ValueError:  # below the backbone's total stride: refused, so not exportable
            return False
        return all(a >= 2 and b >= 2 for _, a, b in sizes)

    hi = 2
    while not ok(hi):
        if hi >= max_size:
            raise ValueError(f'no input up to {max_size} px gives every DFC gate a 2x2 map')
        hi = min(2 * hi, max_size)
    lo = hi // 2  # ok(lo) is False (or lo == 1, which no DFC map of size >= 2 comes from)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return max(hi, floor)


def _preprocessor_metadata(model: nn.Module) -> Dict[str, str]:
    dp = getattr(model, 'data_preprocessor', None)
    if dp is None:
        return {}
    meta = {}
    normalize = getattr(dp, '_enable_normalize', getattr(dp, 'mean', None) is not None)
    if normalize and getattr(dp, 'mean', None) is not None:
        meta['mean'] = json.dumps([round(float(v), 4) for v in dp.mean.flatten()])
        meta['std'] = json.dumps([round(float(v), 4) for v in dp.std.flatten()])
    to_rgb = getattr(dp, 'to_rgb', getattr(dp, '_channel_conversion', None))
    if to_rgb is not None:
        meta['bgr_to_rgb'] = 'true' if to_rgb else 'false'
    return meta


def export_onnx(model: nn.Module,
                path: str,
                shape: _Shape = (224, 224),
                dynamic_batch: bool = True,
                dynamic_hw: bool = False,
                opset: int = 17,
                backbone_only: bool = False,
                batch_size: int = 1,
                deploy: bool = True,
                metadata: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Export ``model`` to ONNX at ``path`` (written atomically).

    Args:
        model (nn.Module): An mmpretrain classifier, a model with a backbone (with
            ``backbone_only``) or a bare backbone, in training or deploy form. It is not
            modified: a copy is exported.
        path (str): Output ``.onnx`` file.
        shape (int | tuple[int, int]): H, W traced. Defaults to (224, 224).
        dynamic_batch (bool): Leave the batch dimension free. Defaults to True.
        dynamic_hw (bool): Leave H and W free; then ``shape`` must be at least
            :func:`min_input_size`. Defaults to False.
        opset (int): ONNX opset, 11 to 20. Defaults to 17.
        backbone_only (bool): Export the backbone's ``out_indices`` outputs. Defaults to
            False.
        batch_size (int): Batch size traced (the static batch when not ``dynamic_batch``).
            Defaults to 1.
        deploy (bool): Re-parameterize the copy first. Defaults to True.
        metadata (dict, optional): Extra ``metadata_props`` (str -> str).

    Returns:
        dict: ``path``, ``input_name``, ``output_names``, ``shape``, ``min_input_size`` (None
        for a static H x W) and ``metadata`` (what was written to ``metadata_props``).

    Raises:
        ValueError: A bad shape, opset or batch size, a detector without ``backbone_only``,
            or (``dynamic_hw``) an export shape below :func:`min_input_size`.
    """
    import onnx

    from mmghost import switch_to_deploy
    from mmghost.version import __version__
    from .deploy import pending_reparam_modules

    h, w = _hw(shape)
    if isinstance(opset, bool) or not isinstance(opset, int) or \
            not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f'opset must be an int in [{MIN_OPSET}, {MAX_OPSET}] (Resize with '
                         f'asymmetric/floor needs 11; the TorchScript exporter writes up to '
                         f'{MAX_OPSET}), got {opset!r}')
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive int, got {batch_size!r}')
    wrapper = _as_export_module(model, backbone_only)
    wrapper = copy.deepcopy(wrapper)
    deployed = False
    if deploy and pending_reparam_modules(wrapper):
        switch_to_deploy(wrapper)
        deployed = True
    wrapper.eval()
    name = type(wrapper.net.backbone if hasattr(wrapper.net, 'backbone') else wrapper.net)
    name = name.__name__
    min_size = None
    if dynamic_hw:
        min_size = min_input_size(wrapper)
        if h < min_size or w < min_size:
            raise ValueError(
                f'export shape {h}x{w} is too small for a dynamic H x W graph of {name}: its '
                f'DFC attention skips the 2x2 average pool on maps under 2 px, a run-time '
                f'decision the exporter freezes at the export shape; export at H, W >= '
                f'{min_size} (the graph is then exact for every input >= {min_size}), or '
                f'export a static graph without dynamic H x W')

    x = torch.randn(batch_size, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = wrapper(x)
    n_out = len(outputs) if isinstance(outputs, (list, tuple)) else 1
    output_names = wrapper.output_names or [f'output{i}' for i in range(n_out)]
    if len(output_names) != n_out:
        output_names = [f'output{i}' for i in range(n_out)]
    dynamic_axes = {}
    in_axes = {}
    if dynamic_batch:
        in_axes[0] = 'batch'
    if dynamic_hw:
        in_axes.update({2: 'height', 3: 'width'})
    if in_axes:
        dynamic_axes[INPUT_NAME] = in_axes
        for out_name, out in zip(output_names,
                                 outputs if isinstance(outputs, (list, tuple)) else [outputs]):
            axes = {0: 'batch'} if dynamic_batch else {}
            if dynamic_hw and out.dim() == 4:
                axes.update({2: f'{out_name}_height', 3: f'{out_name}_width'})
            if axes:
                dynamic_axes[out_name] = axes

    meta = {
        'producer': f'mmghost {__version__}',
        'task': 'backbone' if wrapper.backbone_only else 'classifier',
        'backbone': name,
        'deploy': 'true' if (deployed or not pending_reparam_modules(wrapper)) else 'false',
        'input': (f'{INPUT_NAME}: float32 N x 3 x H x W, already normalized: (pixel - mean) / '
                  f'std with channels swapped BGR->RGB when bgr_to_rgb is true; the '
                  f'data_preprocessor is not part of the graph'),
        'outputs': json.dumps(output_names),
        'export_shape': f'{h}x{w}',
        'export_batch_size': str(batch_size),
        'dynamic_batch': 'true' if dynamic_batch else 'false',
        'dynamic_hw': 'true' if dynamic_hw else 'false',
    }
    if min_size is not None:
        meta['min_input_size'] = str(min_size)
    backbone = wrapper.net.backbone if hasattr(wrapper.net, 'backbone') else wrapper.net
    widen = getattr(backbone, 'widen_factor', None)
    if widen is not None:
        meta['widen_factor'] = repr(widen)
    if wrapper.backbone_only and hasattr(backbone, 'stage_strides'):
        idx = list(getattr(backbone, 'out_indices', []))
        meta['output_strides'] = json.dumps([backbone.stage_strides[i] for i in idx])
        meta['output_channels'] = json.dumps([backbone.stage_channels[i] for i in idx])
    meta.update(_preprocessor_metadata(model if not isinstance(model, OnnxExportModule)
                                       else model.net))
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})

    path = osp.abspath(path)
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', suffix='.tmp',
                               dir=osp.dirname(path))
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # TracerWarnings flag the Python-level shape tests the trace freezes (the DFC
            # pool's >= 2 px test, channel counts); the min_input_size guard covers them.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            # The TorchScript exporter is deprecated (not removed) in torch 2.9+; the dynamo
            # one needs onnxscript, which this environment does not install.
            warnings.filterwarnings('ignore', category=DeprecationWarning,
                                    module=r'torch\.onnx')
            warnings.filterwarnings('ignore', message='You are using the legacy TorchScript',
                                    category=DeprecationWarning)
            torch.onnx.export(
                wrapper, (x, ),
                tmp,
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=output_names,
                dynamic_axes=dynamic_axes or None,
                do_constant_folding=True)
        proto = onnx.load(tmp)
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return dict(path=path, input_name=INPUT_NAME, output_names=output_names, shape=(h, w),
                min_input_size=min_size, metadata=meta)


def read_metadata(path: str) -> Dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict."""
    import onnx
    proto = onnx.load(path, load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def resize_attributes(path: str) -> List[Dict[str, object]]:
    """The attributes of every ``Resize`` node of an ONNX file (the DFC gates' upsampling)."""
    import onnx
    proto = onnx.load(path, load_external_data=False)
    result = []
    for node in proto.graph.node:
        if node.op_type == 'Resize':
            attrs = {}
            for a in node.attribute:
                v = onnx.helper.get_attribute_value(a)
                attrs[a.name] = v.decode() if isinstance(v, bytes) else v
            result.append(attrs)
    return result


def _validate_input(x: torch.Tensor, meta: Dict[str, str]) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f'inputs must be N x 3 x H x W tensors, got {shape}')
    n, _, h, w = x.shape
    if meta.get('dynamic_batch') == 'false' and 'export_batch_size' in meta and \
            n != int(meta['export_batch_size']):
        raise ValueError(f'the graph has a static batch of {meta["export_batch_size"]}, got an '
                         f'input of batch {n}')
    if meta.get('dynamic_hw') == 'false' and 'export_shape' in meta and \
            f'{h}x{w}' != meta['export_shape']:
        raise ValueError(f'the graph has a static H x W of {meta["export_shape"]}, got an '
                         f'input of {h}x{w}; export with dynamic_hw=True for other sizes')
    if meta.get('min_input_size') and min(h, w) < int(meta['min_input_size']):
        raise ValueError(f'input {h}x{w} is below the graph\'s min_input_size '
                         f'{meta["min_input_size"]}: some DFC gate would see a map under 2 px, '
                         f'where PyTorch skips the average pool but the graph does not')


@torch.no_grad()
def compare_onnx(path: str,
                 model: nn.Module,
                 inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                 providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None) -> List[Dict[str, object]]:
    """Run ``inputs`` through onnxruntime and through ``model``; one record per input.

    ``model`` is wrapped as at export time (the file's ``task`` metadata says whether it
    was a backbone); it may be the training or the deploy form, and is run in eval mode.

    Returns:
        list[dict]: Per input: ``shape``, ``max_abs_diff`` and ``max_abs_ref`` (the largest
        PyTorch output magnitude) over all outputs, and ``max_rel_diff``, the largest
        ``max|ORT - PyTorch| / max|PyTorch|`` of a single output (each output relative to
        its own scale, so a small-valued output is not hidden by a large one).

    Raises:
        ValueError: An input the graph cannot run exactly (static shape mismatch, or H, W
            below the recorded ``min_input_size``).
    """
    meta = read_metadata(path)
    wrapper = _as_export_module(model, meta.get('task') == 'backbone')
    inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    for x in inputs:
        _validate_input(x, meta)
    sess = ort_session(path, providers, num_threads or torch.get_num_threads())
    input_name = sess.get_inputs()[0].name
    records = []
    was_training = wrapper.net.training
    wrapper.eval()
    try:
        for x in inputs:
            ref = wrapper(x.float())
            ref = list(ref) if isinstance(ref, (list, tuple)) else [ref]
            got = sess.run(None, {input_name: x.float().cpu().numpy()})
            if len(got) != len(ref):
                raise ValueError(f'the graph has {len(got)} outputs, the model {len(ref)}')
            diff = scale = rel = 0.0
            for r, g in zip(ref, got):
                g = torch.from_numpy(g)
                if tuple(g.shape) != tuple(r.shape):
                    raise ValueError(f'output shape {tuple(g.shape)} from onnxruntime, '
                                     f'{tuple(r.shape)} from PyTorch, for input '
                                     f'{tuple(x.shape)}')
                d = (g - r.cpu()).abs().max().item()
                m = r.abs().max().item()
                diff, scale = max(diff, d), max(scale, m)
                rel = max(rel, d / max(m, 1e-12))
            records.append(dict(shape=tuple(x.shape), max_abs_diff=diff, max_abs_ref=scale,
                                max_rel_diff=rel))
    finally:
        wrapper.net.train(was_training)
    return records


def check_onnx(path: str,
               model: nn.Module,
               inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
               rtol: Optional[float] = None,
               providers: Optional[Sequence[str]] = None,
               num_threads: Optional[int] = None) -> float:
    """Largest ``|onnxruntime - PyTorch|`` over ``inputs`` and all outputs.

    Args:
        path (str): The exported ``.onnx`` file.
        model (nn.Module): The model it was exported from (training or deploy form).
        inputs (Tensor | list[Tensor]): Normalized ``N x 3 x H x W`` batches.
        rtol (float, optional): When given, raise if, for any input and output, the max
            abs difference exceeds ``rtol * max|PyTorch output|`` (``1e-4`` suits fp32).
        providers (list[str], optional): onnxruntime providers; CPU by default.
        num_threads (int, optional): onnxruntime intra-op threads; torch's by default.

    Returns:
        float: The max absolute difference.

    Raises:
        ValueError: An input the graph cannot run exactly (see :func:`compare_onnx`).
        AssertionError: ``rtol`` is given and exceeded.
    """
    records = compare_onnx(path, model, inputs, providers, num_threads)
    if rtol is not None:
        for r in records:
            if not r['max_rel_diff'] <= rtol:
                raise AssertionError(
                    f'onnxruntime differs from PyTorch at input {r["shape"]}: max abs diff '
                    f'{r["max_abs_diff"]:.3e}, {r["max_rel_diff"]:.2e} of an output\'s '
                    f'magnitude > rtol {rtol:g}')
    return max(r['max_abs_diff'] for r in records)
