"""ncnn export: the deploy form traced to TorchScript and converted by pnnx into an ncnn model.

    from mmghost.export import export_ncnn
    info = export_ncnn(detector, 'ssdlite.ncnn.param', shape=(320, 320))

An ncnn model is three files side by side: ``NAME.ncnn.param`` (the graph), ``NAME.ncnn.bin``
(the weights, float32) and ``NAME.ncnn.json`` (mmghost's metadata, the same keys an ONNX
export keeps in its ``metadata_props``, plus the SHA-256 of the other two files, so a graph or
weights file that is not the one the metadata describes is refused at load time). The
``.ncnn.`` infix keeps the weights apart from an OpenVINO IR's ``NAME.bin``.

What the graph computes:

* a classifier: its logits; a backbone (``backbone_only``): its ``out_indices`` maps;
* a single-stage detector (RetinaNet, SSD / SSDLite, RTMDet): its dense head's raw per-level
  maps, ``cls_score_0..L-1`` then ``bbox_pred_0..L-1``. Decoding, the score threshold, top-k
  and NMS run after the graph, in :class:`mmghost.runtime.preprocess.DenseHeadDecoder`, which
  is the config's own head (mmdet's ``predict_by_feat``), as ncnn deployments of light
  detectors do it: ncnn has no NMS layer that a traced PyTorch graph maps to.

The graph takes any H x W (pnnx is given two input sizes, so every size expression in the
graph stays symbolic) at or above the backbone's ``min_input_size``; ncnn runs one image at a
time, and the backend loops over a batch. All files are written to a temporary folder and
moved into place only after pnnx succeeded, the metadata file last: an interrupted or failed
conversion leaves nothing behind.
"""
import json
import os
import os.path as osp
import subprocess
import tempfile
import warnings
from typing import Dict, Optional

import torch
import torch.nn as nn

from mmghost.models.layers.reparam import pending_reparam_modules, switch_to_deploy
from mmghost.models.utils import is_detector, seeded_input
from mmghost.runtime.backends import file_sha256, ncnn_files
from mmghost.runtime.preprocess import dense_map_names
from .detector_export import supported_head
from .onnx_export import (_as_export_module, _hw, _Shape, backbone_output_metadata,
                          dynamic_min_size, graph_metadata, preprocessor_metadata)

__all__ = ['DenseHeadOutputs', 'export_ncnn', 'pnnx_executable', 'unshare_modules']


class DenseHeadOutputs(nn.Module):
    """A single-stage detector as ``normalized batch -> (cls_score_0, ..., bbox_pred_0, ...)``
    (YOLOX: then ``objectness_0, ...``): its dense head's raw per-level maps, for runtimes
    that decode and run NMS after the graph (ncnn;
    :class:`mmghost.runtime.preprocess.DenseHeadDecoder` turns the maps into detections with
    the config's own head).

    Args:
        detector (nn.Module): An mmdet detector whose ``bbox_head`` returns ``(cls_scores,
            bbox_preds)`` (RetinaNet, SSD / SSDLite, RTMDet) or ``(cls_scores, bbox_preds,
            objectnesses)`` (YOLOX), deploy form.

    Raises:
        ValueError: Another kind of detector (YOLOv3, two-stage, RTMDet-Ins, ...).
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        try:
            kind = supported_head(detector)
        except ValueError:
            kind = 'unsupported'
        head = getattr(detector, 'bbox_head', None)
        if kind not in ('anchor', 'yolox') or type(head).__name__ in _NOT_TWO_LISTS:
            what = type(head).__name__ if head is not None else 'no bbox_head'
            raise ValueError(
                f'{type(detector).__name__} ({what}) has no dense head of (cls_scores, '
                f'bbox_preds) maps; the raw-head export (ncnn) takes single-stage detectors '
                f'such as RetinaNet, SSD / SSDLite, RTMDet and YOLOX. Export it to ONNX (decoding '
                f'and NMS in the graph) instead')
        self.detector = detector
        self.num_levels = head.prior_generator.num_levels
        self.output_names = [f'{part}_{i}' for part in dense_map_names(head)
                             for i in range(self.num_levels)]

    def forward(self, x: torch.Tensor):
        groups = self.detector.bbox_head(self.detector.extract_feat(x))
        return tuple(m for group in groups for m in group)


#: Dense heads whose ``forward`` returns more than the two lists ``(cls_scores, bbox_preds)``.
_NOT_TWO_LISTS = ('RTMDetInsHead', 'RTMDetInsSepBNHead')


def pnnx_executable() -> str:
    """The ``pnnx`` converter of the installed ``pnnx`` package.

    Raises:
        ImportError: pnnx is not installed (the message says what to install).
    """
    try:
        import pnnx
    except ImportError as e:
        raise ImportError('ncnn export needs pnnx: pip install pnnx==20261020 (or pip install '
                          '"mmghost[deploy]")') from e
    path = getattr(pnnx, 'EXEC_PATH', '')
    if not osp.isfile(path):
        raise ImportError(f'the pnnx package has no converter executable ({path!r}); reinstall '
                          f'it: pip install --force-reinstall pnnx==20261020')
    return path


def _module(model: nn.Module, backbone_only: bool):
    """What is traced, its task and its backbone (a copy of ``model``, in deploy form)."""
    import copy
    if is_detector(model) and not backbone_only:
        wrapper = DenseHeadOutputs(copy.deepcopy(model).eval())
        task, backbone = 'detector', wrapper.detector.backbone
        names = wrapper.output_names
    else:
        wrapper = copy.deepcopy(_as_export_module(model, backbone_only))
        task, names = wrapper.task, wrapper.output_names
        backbone = wrapper.net.backbone if hasattr(wrapper.net, 'backbone') else wrapper.net
    if pending_reparam_modules(wrapper):
        switch_to_deploy(wrapper)
    unshare_modules(wrapper)
    focus_as_pixel_unshuffle(wrapper)
    return wrapper.eval(), task, backbone, names


def unshare_modules(module: nn.Module) -> int:
    """Give every place a module is registered its own copy (same weights); returns how many
    copies were made. pnnx leaves a module called from several places (RTMDet's
    ``share_conv`` heads share each conv across levels) as an ``nn.Conv2d`` that ncnn cannot
    load; one copy per call site converts."""
    import copy
    seen, copies = set(), 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if id(child) in seen:
                setattr(parent, name, copy.deepcopy(child))
                copies += 1
            else:
                seen.add(id(child))
    return copies


class _UnshuffleFocus(nn.Module):
    """mmdet's ``Focus`` (YOLOX's stem) as ``pixel_unshuffle`` and its conv, whose input
    channels are permuted to match: the same outputs, in ops ncnn converts (pnnx 20261020 turns
    Focus's stride-2 slices into full-size crops, doubling every later map)."""

    def __init__(self, focus: nn.Module):
        super().__init__()
        import copy
        self.conv = copy.deepcopy(focus.conv)
        weight = self.conv.conv.weight.data
        c = weight.shape[1] // 4
        # Focus concatenates the (row, col) offsets (0,0), (1,0), (0,1), (1,1) channel block by
        # block; pixel_unshuffle puts channel k's offset (i, j) at 4k + 2i + j.
        order = [(0, 0), (1, 0), (0, 1), (1, 1)]
        index = torch.empty(4 * c, dtype=torch.long)
        for block, (i, j) in enumerate(order):
            index[torch.arange(c) * 4 + 2 * i + j] = torch.arange(c) + block * c
        self.conv.conv.weight.data = weight[:, index].contiguous()

    def forward(self, x):
        return self.conv(torch.nn.functional.pixel_unshuffle(x, 2))


def focus_as_pixel_unshuffle(module: nn.Module) -> int:
    """Replace every mmdet ``Focus`` under ``module`` by :class:`_UnshuffleFocus`; returns how
    many."""
    from mmdet.models.backbones.csp_darknet import Focus
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Focus):
                setattr(parent, name, _UnshuffleFocus(child))
                count += 1
    return count


def _second_shape(h: int, w: int) -> tuple:
    """Another input size for pnnx, so it keeps H x W symbolic: a stride-32 step larger."""
    return h + 32, w + 64


def export_ncnn(model: nn.Module,
                path: str,
                shape: _Shape = (320, 320),
                dynamic_hw: bool = True,
                backbone_only: bool = False,
                metadata: Optional[Dict[str, str]] = None,
                timeout: float = 900) -> Dict[str, object]:
    """Export ``model`` (training or deploy form; a copy is fused) to ncnn through pnnx.

    Args:
        model (nn.Module): An mmpretrain classifier, a single-stage mmdet detector
            (RetinaNet, SSD / SSDLite, RTMDet) or, with ``backbone_only``, any model with a
            backbone.
        path (str): The ``.ncnn.param`` file to write (``.ncnn.bin`` and ``.ncnn.json``
            beside it).
        shape (int | tuple[int, int]): H, W traced. Defaults to (320, 320).
        dynamic_hw (bool): Keep H x W free (then ``shape`` must be at least the backbone's
            ``min_input_size``). Defaults to True.
        backbone_only (bool): Export the backbone's ``out_indices`` maps. Defaults to False.
        metadata (dict, optional): Extra metadata (str -> str).
        timeout (float): Seconds pnnx may take. Defaults to 900.

    Returns:
        dict: ``path``, ``bin``, ``metadata_file``, ``output_names``, ``shape``,
        ``min_input_size`` and ``metadata``.

    Raises:
        ImportError: pnnx is not installed.
        ValueError: A path not ending in ``.ncnn.param``, a bad shape, a detector without a dense
            head, or a dynamic export below ``min_input_size``.
        RuntimeError: pnnx failed (its last output lines are in the message); nothing written.
    """
    param, bin_path, meta_path = ncnn_files(path)
    exe = pnnx_executable()
    h, w = _hw(shape)
    wrapper, task, backbone, names = _module(model, backbone_only)
    min_size = dynamic_min_size(backbone, (h, w)) if dynamic_hw else None
    x = seeded_input((h, w))
    with torch.no_grad():
        outs = wrapper(x)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    names = list(names or [f'output{i}' for i in range(len(outs))])
    meta = {'format': 'ncnn', 'task': task}
    if task == 'detector':
        det = wrapper.detector
        head = det.bbox_head
        meta.update(detector=type(det).__name__, head=type(head).__name__,
                    head_outputs='dense', num_classes=str(head.num_classes),
                    outputs_doc=f'cls_score_i, bbox_pred_i: the {type(head).__name__}\'s raw '
                    f'maps of level i (1 x C x H_i x W_i per image); decode them with the '
                    f'config\'s head (mmghost.runtime.DenseHeadDecoder)')
    elif task == 'classifier' and getattr(wrapper.net.head, 'num_classes', None) is not None:
        meta['num_classes'] = str(wrapper.net.head.num_classes)
    elif task == 'backbone':
        meta.update(backbone_output_metadata(backbone))
    meta.update(preprocessor_metadata(getattr(wrapper, 'detector', None) or wrapper.net))
    meta['ncnn_blobs'] = json.dumps({'input': 'in0', 'outputs': [f'out{i}' for i in
                                                                 range(len(outs))]})
    meta['pnnx'] = _pnnx_version()
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    meta = graph_metadata(backbone, (h, w), names, True, dynamic_hw, 1, min_size, True, meta)

    folder = osp.dirname(osp.abspath(param))
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix='.pnnx-') as tmp:
        traced = osp.join(tmp, 'model.pt')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.jit.trace(wrapper, (x, ), check_trace=False).save(traced)
        cmd = [exe, traced, f'inputshape=[1,3,{h},{w}]f32', 'device=cpu', 'fp16=0']
        if dynamic_hw:
            h2, w2 = _second_shape(h, w)
            cmd.append(f'inputshape2=[1,3,{h2},{w2}]f32')
        out = {k: osp.join(tmp, f'model.{k}') for k in ('ncnn.param', 'ncnn.bin')}
        cmd += [f'ncnnparam={out["ncnn.param"]}', f'ncnnbin={out["ncnn.bin"]}'] + [
            f'{k}={osp.join(tmp, v)}' for k, v in (
                ('pnnxparam', 'model.pnnx.param'), ('pnnxbin', 'model.pnnx.bin'),
                ('pnnxpy', 'model_pnnx.py'), ('pnnxonnx', 'model.pnnx.onnx'),
                ('ncnnpy', 'model_ncnn.py'))]
        try:
            run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f'pnnx did not finish converting within {timeout:g} s; nothing '
                               f'was written') from None
        if run.returncode != 0 or not all(osp.isfile(f) for f in out.values()):
            tail = '\n'.join((run.stdout + run.stderr).strip().splitlines()[-8:])
            raise RuntimeError(f'pnnx could not convert {type(backbone).__name__} (exit '
                               f'{run.returncode}); nothing was written. Its last lines:\n{tail}')
        produced = _ncnn_output_count(out['ncnn.param'])
        if produced != len(outs):
            raise RuntimeError(f'pnnx wrote an ncnn graph with {produced} outputs, the model has '
                               f'{len(outs)}; nothing was written')
        meta['param_sha256'] = file_sha256(out['ncnn.param'])
        meta['bin_sha256'] = file_sha256(out['ncnn.bin'])
        tmp_meta = osp.join(tmp, 'model.json')
        with open(tmp_meta, 'w') as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        os.replace(out['ncnn.bin'], bin_path)
        os.replace(out['ncnn.param'], param)
        os.replace(tmp_meta, meta_path)  # last: a model without it is refused at load time
    return dict(path=param, bin=bin_path, metadata_file=meta_path, input_name='in0',
                output_names=names, shape=(h, w), min_input_size=min_size, metadata=meta)


def _pnnx_version() -> str:
    try:
        from importlib.metadata import version
        return version('pnnx')
    except Exception:  # noqa: BLE001  (a source build without distribution metadata)
        return 'unknown'


def _ncnn_output_count(param: str) -> int:
    """Blobs of an ncnn ``.param`` that no layer consumes (the graph's outputs)."""
    produced, consumed = [], set()
    with open(param) as f:
        lines = f.read().split('\n')[2:]
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        n_in, n_out = int(parts[2]), int(parts[3])
        consumed.update(parts[4:4 + n_in])
        produced += parts[4 + n_in:4 + n_in + n_out]
    return len([b for b in produced if b not in consumed])
