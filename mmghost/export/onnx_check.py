"""The checked ONNX export: export a classifier, backbone or whole detector, then compare the
runtime's outputs with PyTorch's on seeded batches at the export shape and at odd sizes.

    from mmghost.export import check_onnx, export_checked
    worst = export_checked(model, 'model.onnx', shape=(224, 224), dynamic_hw=True)

This module sits above both exporters (:mod:`.onnx_export` for classifiers and backbones,
:mod:`.detector_export` for whole detectors) and picks one by the model it is given.
"""
import copy
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from mmghost.models.layers.reparam import switch_to_deploy
from mmghost.models.utils import is_detector, seeded_input
from .detector_export import DetectorExportModule, export_detector
from .ncnn_export import DenseHeadOutputs, export_ncnn
from .onnx_export import (_as_export_module, _hw, _Shape, export_onnx, min_input_size,
                          resize_attributes)
from mmghost.reparameterize.aligned_form import ORT_BLOCK
from mmghost.reparameterize.deploy_form import DeployError
from mmghost.runtime.backends import create_backend, ncnn_files, read_metadata

__all__ = ['align_detections', 'compare_onnx', 'check_onnx', 'export_checked', 'parse_hw',
           'DEFAULT_CHECK_SHAPES']


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


def align_detections(ref: Sequence[torch.Tensor], got: List[np.ndarray],
                     score_tol: float = 1e-4) -> List[np.ndarray]:
    """Reorder a runtime's detections (``boxes, scores, labels[, masks]``, ``N x K x ...``)
    to the reference's order where the two only rank equal-scoring detections differently.

    NMS and top-k order detections by score; two detections whose scores differ by float
    rounding (here ~1e-7) may come out in either order, so a rank-by-rank comparison would
    report a whole box of difference for a correct graph. Each reference detection, in rank
    order, takes the unused runtime detection of the same label whose score is within
    ``score_tol`` and whose box is closest; one with no such partner keeps its rank, so a
    real difference still shows in the comparison.
    """
    boxes, scores, labels = (np.asarray(g) for g in got[:3])
    ref_boxes, ref_scores, ref_labels = (r.cpu().numpy() for r in ref[:3])
    order = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    for b in range(scores.shape[0]):
        free = np.ones(scores.shape[1], dtype=bool)
        for i in range(scores.shape[1]):
            ok = free & (labels[b] == ref_labels[b, i]) & \
                (np.abs(scores[b] - ref_scores[b, i]) <= score_tol)
            if ok.any():
                dist = np.where(ok, np.abs(boxes[b] - ref_boxes[b, i]).max(-1), np.inf)
                j = int(dist.argmin())
            else:
                j = i if free[i] else int(np.flatnonzero(free)[0])
            order[b, i], free[j] = j, False
    return [np.take_along_axis(g, order.reshape(order.shape + (1, ) * (g.ndim - 2)), 1)
            for g in got]


@torch.no_grad()
def compare_onnx(path: str,
                 model: nn.Module,
                 inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                 backend: str = 'onnxruntime',
                 num_threads: Optional[int] = None) -> List[Dict[str, object]]:
    """Run ``inputs`` through an exported file (ONNX Runtime, OpenVINO or ncnn) and through
    ``model``; one record per input.

    ``model`` is wrapped as at export time (the file's ``task`` metadata says whether it
    was a backbone or a whole detector); it may be the training or the deploy form, and is
    run in eval mode. A detector's detections are compared after
    :func:`align_detections` (equal scores may be ranked either way).

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
    if meta.get('task') == 'detector':
        detector = copy.deepcopy(model).eval()
        switch_to_deploy(detector)
        raw = meta.get('head_outputs') == 'dense'  # an ncnn graph: the head's raw maps
        wrapper = _as_export_module(
            DenseHeadOutputs(detector) if raw else DetectorExportModule(detector), False)
    else:
        wrapper = _as_export_module(model, meta.get('task') == 'backbone')
    inputs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    for x in inputs:
        _validate_input(x, meta)
    run = create_backend(backend, path, num_threads or torch.get_num_threads())
    records = []
    was_training = wrapper.net.training
    wrapper.eval()
    try:
        for x in inputs:
            with torch.no_grad():
                ref = wrapper(x.float())
            ref = list(ref) if isinstance(ref, (list, tuple)) else [ref]
            got = run(np.ascontiguousarray(x.float().cpu().numpy()))
            if len(got) != len(ref):
                raise ValueError(f'the graph has {len(got)} outputs, the model {len(ref)}')
            if meta.get('task') == 'detector' and not raw and all(
                    tuple(g.shape) == tuple(r.shape) for g, r in zip(got, ref)):
                got = align_detections(ref, got)
            diff = scale = rel = 0.0
            for r, g in zip(ref, got):
                g = torch.from_numpy(g)
                if tuple(g.shape) != tuple(r.shape):
                    raise ValueError(f'output shape {tuple(g.shape)} from {backend}, '
                                     f'{tuple(r.shape)} from PyTorch, for input '
                                     f'{tuple(x.shape)}')
                d = (g.float() - r.cpu().float()).abs().max().item() if r.numel() else 0.0
                m = r.abs().max().item() if r.numel() else 0.0
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
               backend: str = 'onnxruntime',
               num_threads: Optional[int] = None) -> float:
    """Largest ``|onnxruntime - PyTorch|`` over ``inputs`` and all outputs.

    Args:
        path (str): The exported ``.onnx`` file.
        model (nn.Module): The model it was exported from (training or deploy form).
        inputs (Tensor | list[Tensor]): Normalized ``N x 3 x H x W`` batches.
        rtol (float, optional): When given, raise if, for any input and output, the max
            abs difference exceeds ``rtol * max|PyTorch output|`` (``1e-4`` suits fp32).
        backend (str): ``'onnxruntime'`` or ``'openvino'``.
        num_threads (int, optional): onnxruntime intra-op threads; torch's by default.

    Returns:
        float: The max absolute difference.

    Raises:
        ValueError: An input the graph cannot run exactly (see :func:`compare_onnx`).
        AssertionError: ``rtol`` is given and exceeded.
    """
    records = compare_onnx(path, model, inputs, backend, num_threads)
    if rtol is not None:
        for r in records:
            if not r['max_rel_diff'] <= rtol:
                raise AssertionError(
                    f'onnxruntime differs from PyTorch at input {r["shape"]}: max abs diff '
                    f'{r["max_abs_diff"]:.3e}, {r["max_rel_diff"]:.2e} of an output\'s '
                    f'magnitude > rtol {rtol:g}')
    return max(r['max_abs_diff'] for r in records)


def parse_hw(text: str) -> Tuple[int, int]:
    """``H,W`` (or ``HxW``, or ``S``) of a command-line size (an argparse ``type``)."""
    import argparse
    for sep in (',', 'x', 'X'):
        if sep in text:
            parts = text.split(sep)
            break
    else:
        parts = [text, text]
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected H,W (or HxW, or S), got {text!r}')
    if len(parts) != 2 or h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f'expected positive H,W, got {text!r}')
    return h, w


#: Sizes a dynamic H x W export is checked at besides its export shape (odd, non-square).
DEFAULT_CHECK_SHAPES = ((97, 131), (65, 65))


def export_checked(model: nn.Module,
                   path: str,
                   shape: _Shape = (224, 224),
                   dynamic_batch: bool = True,
                   dynamic_hw: bool = False,
                   opset: int = 17,
                   backbone_only: bool = False,
                   check_shapes: Optional[Sequence[Tuple[int, int]]] = None,
                   rtol: float = 1e-4,
                   log=print,
                   fmt: str = 'onnx',
                   align_channels: int = ORT_BLOCK) -> float:
    """:func:`export_onnx`, then compare onnxruntime with PyTorch on seeded batches (2 images
    with a dynamic batch) at the export shape and, with ``dynamic_hw``, at ``check_shapes``
    (default :data:`DEFAULT_CHECK_SHAPES`). ``path`` is removed if, for any output, the error
    exceeds ``rtol`` times that output's largest magnitude.

    ``fmt='ncnn'`` exports with :func:`mmghost.export.export_ncnn` instead (``path`` is the
    ``.param`` file; a detector gives its head's raw maps, compared map by map; the batch is
    free, ``dynamic_batch`` ignored) and compares through ncnn; a failed check removes all
    three files. ``align_channels`` is :func:`export_onnx`'s (0: the plain layout).

    Returns:
        float: The largest relative difference.

    Raises:
        ValueError: A check size below :func:`min_input_size` (nothing written), or bad
            export arguments.
        DeployError: The comparison failed (``path`` removed).
    """
    if fmt not in ('onnx', 'ncnn'):
        raise ValueError(f"fmt must be 'onnx' or 'ncnn', got {fmt!r}")
    h, w = _hw(shape)
    shapes = [(h, w)]
    if dynamic_hw:
        extra = check_shapes if check_shapes is not None else DEFAULT_CHECK_SHAPES
        shapes += [tuple(s) for s in extra if tuple(s) != (h, w)]
        whole_detector = is_detector(model) and not backbone_only
        least = min_input_size(model.backbone if whole_detector else model, backbone_only)
        small = [f'{a}x{b}' for a, b in shapes if min(a, b) < least]
        if small:
            raise ValueError(
                f'{", ".join(small)} below the min_input_size {least} of this model: a '
                f'dynamic H x W graph is exact only when every DFC gate sees a map of at '
                f'least 2x2 px (inputs >= {least}); choose larger sizes, or export a static '
                f'graph (no --dynamic-hw) at the size you need')
    backend = 'ncnn' if fmt == 'ncnn' else 'onnxruntime'
    if fmt == 'ncnn':
        info = export_ncnn(model, path, (h, w), dynamic_hw=dynamic_hw,
                           backbone_only=backbone_only)
        dynamic_batch = True  # ncnn runs image by image: any batch
    elif is_detector(model) and not backbone_only:
        info = export_detector(model, path, (h, w), dynamic_batch=dynamic_batch,
                               dynamic_hw=dynamic_hw, opset=opset, align_channels=align_channels)
    else:
        info = export_onnx(model, path, (h, w), dynamic_batch=dynamic_batch,
                           dynamic_hw=dynamic_hw, opset=opset, backbone_only=backbone_only,
                           align_channels=align_channels)
    meta = info['metadata']
    graph = f'ncnn (pnnx {meta.get("pnnx")})' if fmt == 'ncnn' else f'opset {opset}'
    log(f'wrote {path}: {meta["task"]} {meta.get("detector", "")} {meta["backbone"]} (deploy '
        f'form), {graph}, input '
        f'{info["input_name"]} {"N" if dynamic_batch else 1}x3x{"H" if dynamic_hw else h}x'
        f'{"W" if dynamic_hw else w}, outputs {", ".join(info["output_names"])}'
        + (f', channel layout {meta["channel_layout"]}' if 'channel_layout' in meta else ''))
    if 'mean' in meta:
        log(f'input is normalized outside the graph: mean {meta["mean"]}, std {meta["std"]}, '
            f'bgr_to_rgb {meta.get("bgr_to_rgb", "false")} (in metadata_props)')
    if info['min_input_size'] is not None:
        log(f'dynamic H x W valid for H, W >= {info["min_input_size"]}')
    resizes = resize_attributes(path) if fmt == 'onnx' else []
    if resizes:
        kinds = sorted({(r.get('mode'), r.get('coordinate_transformation_mode'),
                         r.get('nearest_mode')) for r in resizes})
        log(f'{len(resizes)} Resize nodes (DFC and aligned SE gates): ' +
            '; '.join(f'mode={a}, coordinate_transformation_mode={b}, nearest_mode={c}'
                      for a, b, c in kinds))
    batch = 2 if dynamic_batch else 1
    inputs = [seeded_input(s, batch, seed=i) for i, s in enumerate(shapes)]
    worst, failed = 0.0, []
    for r in compare_onnx(path, model, inputs, backend):
        rel = r['max_rel_diff']  # per output, relative to its own magnitude
        worst = max(worst, rel)
        n, _, a, b = r['shape']
        log(f'{backend} vs PyTorch at {n}x3x{a}x{b}: max abs diff {r["max_abs_diff"]:.3e} '
            f'(max |output| {r["max_abs_ref"]:.3e}, relative {rel:.2e})')
        if not rel <= rtol:
            failed.append(f'{a}x{b}')
    if failed:
        for f in (ncnn_files(path) if fmt == 'ncnn' else (path, )):
            if os.path.isfile(f):
                os.remove(f)
        raise DeployError(f'FAILED: {backend} differs from PyTorch by more than rtol '
                          f'{rtol:g} at {", ".join(failed)}; {path} removed')
    log(f'OK: max relative difference {worst:.2e} <= {rtol:g}')
    return worst
