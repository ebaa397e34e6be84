"""ONNX export of GhostNet-family classifiers and backbones (deploy form); the graph writer
(:func:`export_graph`) that the whole-detector exporter shares. The check against PyTorch is
:mod:`.onnx_check`.

    from mmghost.export import check_onnx, export_onnx
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

Channel layout
    ``align_channels=16`` (the default) exports a GhostNet/V2/V3/V3-Small backbone in its
    channel-aligned form (:mod:`mmghost.reparameterize.aligned_form`: Ghost halves padded to
    whole 16-channel blocks, so ONNX Runtime keeps its blocked layout through concats and
    gates). Same outputs; ONNX Runtime runs it faster, OpenVINO slower, so exports for
    OpenVINO pass ``align_channels=0``. Recorded as ``channel_layout``.

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
import io
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmghost.checkpoint.atomic import atomic_write
from mmghost.models.backbones.base_ghostnet import BaseGhostNet
from mmghost.models.layers.reparam import pending_reparam_modules, switch_to_deploy
from mmghost.models.utils import is_detector, seeded_input, tensor_forward
from mmghost.reparameterize.aligned_form import ORT_BLOCK, align_backbones

__all__ = [
    'OnnxExportModule', 'export_onnx', 'export_graph', 'min_input_size', 'dfc_input_sizes',
    'preprocessor_metadata', 'graph_metadata', 'dynamic_min_size', 'resize_attributes',
    'INPUT_NAME', 'MIN_OPSET', 'MAX_OPSET'
]

INPUT_NAME = 'input'
#: Resize with ``coordinate_transformation_mode`` and ``nearest_mode`` exists from opset 11;
#: the TorchScript exporter of torch 2.x writes opsets up to 20.
MIN_OPSET, MAX_OPSET = 11, 20

_Shape = Union[int, Sequence[int]]


def _onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError('ONNX export needs onnx: pip install onnx onnxruntime (or pip install '
                          '"mmghost[deploy]")') from e
    return onnx


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


class OnnxExportModule(nn.Module):
    """What is exported: a classifier's logits, a backbone's outputs as a tuple, or a plain
    module's outputs (through :func:`mmghost.models.utils.tensor_forward`).

    Args:
        model (nn.Module): An mmpretrain classifier, a model with a ``backbone`` (with
            ``backbone_only``; detectors too), a bare backbone, or any plain module.
        backbone_only (bool): Export the backbone of ``model``. Defaults to False.
    """

    def __init__(self, model: nn.Module, backbone_only: bool = False):
        super().__init__()
        is_openmmlab = hasattr(model, 'data_preprocessor')
        if is_openmmlab and not backbone_only:
            if is_detector(model):
                raise ValueError(
                    f'{type(model).__name__} is a detector: only its backbone can be exported '
                    f'(backbone_only=True / --backbone-only); the heads\' post-processing '
                    f'(box decoding, NMS) is not part of the ONNX graph here')
            if not hasattr(model, 'head'):
                raise ValueError(f'{type(model).__name__} has no classification head; export '
                                 f'its backbone with backbone_only=True')
            self.task, self.part = 'classifier', 'model'
        elif is_openmmlab:
            self.task, self.part = 'backbone', 'backbone'
        else:  # a bare backbone or another plain module, called as it is
            bare = hasattr(model, 'out_indices') or backbone_only
            self.task, self.part = ('backbone' if bare else 'module'), 'model'
        self.net = model
        self.backbone_only = self.task == 'backbone'
        backbone = model.backbone if self.part == 'backbone' else model
        indices = getattr(backbone, 'out_indices', None)
        if self.task == 'classifier':
            self.output_names = ['logits']
        elif self.task == 'backbone' and indices is not None:
            self.output_names = [f'stage{i}' for i in indices]
        else:
            self.output_names = None

    def forward(self, x: torch.Tensor):
        out = tensor_forward(self.net, x, self.part)
        if self.task == 'classifier':
            return out
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


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


def backbone_output_metadata(backbone: nn.Module) -> Dict[str, str]:
    """``output_strides`` and ``output_channels`` of a backbone-only export's maps."""
    if not hasattr(backbone, 'stage_strides'):
        return {}
    idx = list(getattr(backbone, 'out_indices', []))
    return dict(output_strides=json.dumps([backbone.stage_strides[i] for i in idx]),
                output_channels=json.dumps([backbone.stage_channels[i] for i in idx]))


def preprocessor_metadata(model: nn.Module) -> Dict[str, str]:
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
                metadata: Optional[Dict[str, str]] = None,
                align_channels: int = ORT_BLOCK) -> Dict[str, object]:
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
        align_channels (int): Channel block of the aligned layout for ONNX Runtime ("Channel
            layout" above); 0: the plain layout (for OpenVINO). Defaults to 16.

    Returns:
        dict: ``path``, ``input_name``, ``output_names``, ``shape``, ``min_input_size`` (None
        for a static H x W) and ``metadata`` (what was written to ``metadata_props``).

    Raises:
        ValueError: A bad shape, opset or batch size, a detector without ``backbone_only``,
            or (``dynamic_hw``) an export shape below :func:`min_input_size`.
    """
    _onnx()  # a clear message before anything is copied, when onnx is missing
    wrapper = copy.deepcopy(_as_export_module(model, backbone_only))
    deployed = False
    if deploy and pending_reparam_modules(wrapper):
        switch_to_deploy(wrapper)
        deployed = True
    backbone = wrapper.net.backbone if hasattr(wrapper.net, 'backbone') else wrapper.net
    meta = {'task': wrapper.task}
    head = getattr(wrapper.net, 'head', None)
    if wrapper.task == 'classifier' and getattr(head, 'num_classes', None) is not None:
        meta['num_classes'] = str(head.num_classes)
    if wrapper.backbone_only:
        meta.update(backbone_output_metadata(backbone))
    meta.update(preprocessor_metadata(wrapper.net))
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    return export_graph(wrapper, path, shape, wrapper.output_names, dynamic_batch, dynamic_hw,
                        opset, batch_size, meta, backbone=backbone,
                        deployed=deployed or not pending_reparam_modules(wrapper),
                        align_channels=align_channels)


def dynamic_min_size(backbone: nn.Module, shape: Tuple[int, int]) -> int:
    """The ``min_input_size`` of a dynamic H x W graph of ``backbone`` traced at ``shape``.

    Raises:
        ValueError: ``shape`` is below it (the message names the smallest valid size).
    """
    h, w = shape
    min_size = min_input_size(backbone)
    if h < min_size or w < min_size:
        raise ValueError(
            f'export shape {h}x{w} is too small for a dynamic H x W graph of '
            f'{type(backbone).__name__}: its DFC attention skips the 2x2 average pool on maps '
            f'under 2 px, a run-time decision the exporter freezes at the export shape; export '
            f'at H, W >= {min_size} (the graph is then exact for every input >= {min_size}), '
            f'or export a static graph without dynamic H x W')
    return min_size


def graph_metadata(backbone: nn.Module, shape: Tuple[int, int], output_names: Sequence[str],
                   dynamic_batch: bool, dynamic_hw: bool, batch_size: int,
                   min_size: Optional[int], deployed: bool,
                   metadata: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The metadata every mmghost export carries, whatever its format (ONNX ``metadata_props``,
    an OpenVINO IR's ``rt_info``, an ncnn model's JSON file): producer, input, outputs, shapes,
    the backbone and its width, ``min_input_size``, plus ``metadata``."""
    from mmghost.version import __version__
    h, w = shape
    meta = {
        'producer': f'mmghost {__version__}',
        'task': 'module',
        'backbone': type(backbone).__name__,
        'deploy': 'true' if deployed else 'false',
        'input': (f'{INPUT_NAME}: float32 N x 3 x H x W, already normalized: (pixel - mean) / '
                  f'std with channels swapped BGR->RGB when bgr_to_rgb is true; the '
                  f'data_preprocessor is not part of the graph'),
        'outputs': json.dumps(list(output_names)),
        'export_shape': f'{h}x{w}',
        'export_batch_size': str(batch_size),
        'dynamic_batch': 'true' if dynamic_batch else 'false',
        'dynamic_hw': 'true' if dynamic_hw else 'false',
    }
    if min_size is not None:
        meta['min_input_size'] = str(min_size)
    widen = getattr(backbone, 'widen_factor', None)
    if widen is not None:
        meta['widen_factor'] = repr(widen)
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    return meta


def export_graph(module: nn.Module,
                 path: str,
                 shape: _Shape,
                 output_names: Optional[Sequence[str]] = None,
                 dynamic_batch: bool = True,
                 dynamic_hw: bool = False,
                 opset: int = 17,
                 batch_size: int = 1,
                 metadata: Optional[Dict[str, str]] = None,
                 backbone: Optional[nn.Module] = None,
                 deployed: bool = True,
                 align_channels: int = 0) -> Dict[str, object]:
    """Trace ``module`` (``tensor -> tensor(s)``, eval mode) into an ONNX file, atomically.

    The one exporter behind :func:`export_onnx` and
    :func:`mmghost.export.export_detector`: input ``input`` (``N x 3 x H x W``), outputs
    ``output_names`` (default ``output{i}``), a free batch axis on every output with
    ``dynamic_batch``, free H x W on the input and on 4-D outputs with ``dynamic_hw`` (refused
    below :func:`min_input_size`), and the ``metadata_props`` every mmghost export carries
    (producer, shapes, the backbone and its width, ``min_input_size``) plus ``metadata``.
    ``align_channels`` > 0 first puts ``module``'s GhostNet backbones in their aligned form.
    """
    onnx = _onnx()

    h, w = _hw(shape)
    if isinstance(opset, bool) or not isinstance(opset, int) or \
            not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f'opset must be an int in [{MIN_OPSET}, {MAX_OPSET}] (Resize with '
                         f'asymmetric/floor needs 11; the TorchScript exporter writes up to '
                         f'{MAX_OPSET}), got {opset!r}')
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive int, got {batch_size!r}')
    module.eval()
    backbone = module if backbone is None else backbone
    min_size = dynamic_min_size(backbone, (h, w)) if dynamic_hw else None
    aligned = align_backbones(module, align_channels)

    x = seeded_input((h, w), batch_size)
    with torch.no_grad():
        outputs = module(x)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    output_names = list(output_names or [])
    if len(output_names) != len(outputs):
        output_names = [f'output{i}' for i in range(len(outputs))]
    dynamic_axes = {}
    in_axes = {0: 'batch'} if dynamic_batch else {}
    if dynamic_hw:
        in_axes.update({2: 'height', 3: 'width'})
    if in_axes:
        dynamic_axes[INPUT_NAME] = in_axes
        for out_name, out in zip(output_names, outputs):
            axes = {0: 'batch'} if dynamic_batch else {}
            if dynamic_hw and out.dim() == 4:
                axes.update({2: f'{out_name}_height', 3: f'{out_name}_width'})
            if axes:
                dynamic_axes[out_name] = axes

    meta = graph_metadata(backbone, (h, w), output_names, dynamic_batch, dynamic_hw,
                          batch_size, min_size, deployed, metadata)
    meta['channel_layout'] = f'aligned to {align_channels} channels' if aligned else 'plain'

    path = osp.abspath(path)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # TracerWarnings flag the Python-level shape tests the trace freezes (the DFC
        # pool's >= 2 px test, channel counts); the min_input_size guard covers them.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        # The TorchScript exporter is deprecated (not removed) in torch 2.9+; the dynamo
        # one needs onnxscript, which this environment does not install.
        warnings.filterwarnings('ignore', category=DeprecationWarning, module=r'torch\.onnx')
        warnings.filterwarnings('ignore', message='You are using the legacy TorchScript',
                                category=DeprecationWarning)
        warnings.filterwarnings('ignore', category=UserWarning, module=r'mmdet')
        torch.onnx.export(
            module, (x, ),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=output_names,
            dynamic_axes=dynamic_axes or None,
            do_constant_folding=True)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    atomic_write(path, proto.SerializeToString())
    return dict(path=path, input_name=INPUT_NAME, output_names=output_names, shape=(h, w),
                min_input_size=min_size, metadata=meta)


def resize_attributes(path: str) -> List[Dict[str, object]]:
    """The attributes of every ``Resize`` node of an ONNX file (the DFC gates' upsampling)."""
    onnx = _onnx()
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
