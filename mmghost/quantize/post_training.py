"""INT8 post-training quantization of exported models: static, per-channel, calibrated on
images of the config's training set (pre-processed as at test time).

Two routes, one per runtime, chosen with ``backend`` or, by default, by the output file's
suffix (:func:`default_backend`: ``.xml`` -> OpenVINO's, ``.onnx`` -> ONNX Runtime's):

* ``'onnxruntime'``: ONNX Runtime's QDQ quantizer (``quantize_static``, per-channel int8
  weights, uint8 activations, MinMax calibration); the result is an ONNX file that ONNX
  Runtime (and OpenVINO) run;
* ``'openvino'``: NNCF's post-training quantization of the OpenVINO model; the result is an
  OpenVINO IR (``.xml``).

Each is the faster INT8 route of its runtime (measured 2026-12-07 on GhostNetV3-1.0x and
MobileNetV3-Large, 224, batch 1 and 8, docs/deployment.md#int8): in OpenVINO, NNCF's IR ran
faster than ONNX Runtime's QDQ file read by OpenVINO (GhostNetV3 0.86x / 0.81x its time); in
ONNX Runtime, its own QDQ file ran about as fast as NNCF's QDQ export (1.06x / 1.04x;
MobileNetV3-Large 0.77x / 0.58x). On CPUs measured so far, INT8 in ONNX Runtime runs slower
than its fp32 (1.2-2.5x with VNNI, 1.1-2.4x without): for speed on CPU, quantize for OpenVINO.
Both routes run faster from the plain channel layout than from the channel-aligned one
``pytorch2onnx.py`` writes for ONNX Runtime's fp32 kernels (GhostNetV3 in ONNX Runtime: 1.4x
/ 1.2x the time), so a channel-aligned input is quantized with a warning.

Which layers stay in float is ``keep_float``, a list of layer groups found in the graph by
their names and attributes: ``'first_conv'`` (the stem), ``'head_outputs'`` (the last convs of
detection heads, the classifier's last linear layer), ``'depthwise'`` (convs with groups > 1)
and ``'dfc'`` (the DFC attention branches and their gates); the default keeps the first two,
the choice measured on the demos' trained models (docs/deployment.md).
"""
import os
import os.path as osp
import re
import tempfile
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

__all__ = ['LAYER_GROUPS', 'DEFAULT_KEEP_FLOAT', 'CALIBRATION_METHODS', 'BACKEND_SUFFIX',
           'default_backend', 'calibration_batches', 'float_nodes', 'quantize_model']

LAYER_GROUPS = ('first_conv', 'head_outputs', 'depthwise', 'dfc')
#: ONNX Runtime's calibration methods: the range of each activation from its min and max over
#: the calibration set, from a percentile of its histogram, or from the histogram's entropy.
CALIBRATION_METHODS = ('minmax', 'percentile', 'entropy')
#: Measured on the demos' trained models (docs/deployment.md#int8): the stem and the heads'
#: last layers in float cost the most accuracy when quantized; keeping the DFC branches and
#: the depth-wise convs in float too recovered nothing more and saved no time.
DEFAULT_KEEP_FLOAT = ('first_conv', 'head_outputs')
#: The file each route writes.
BACKEND_SUFFIX = {'onnxruntime': '.onnx', 'openvino': '.xml'}
# The last conv / linear layer of each head: RetinaNet, YOLOv3, RPN, the R-CNN box head, the
# mask head, mmpretrain's linear heads, timm's classifier.
_HEAD_OUTPUTS = re.compile(r'(retina_cls|retina_reg|convs_pred|conv_cls|conv_reg|rpn_cls|'
                           r'rpn_reg|fc_cls|fc_reg|conv_logits|head/layers\.1|/fc/|classifier)')


def calibration_batches(config, num_images: int, split: str = 'train',
                        model_file: Optional[str] = None) -> List[np.ndarray]:
    """The first ``num_images`` images of the config's ``split`` set, each pre-processed as
    at test time into a ``1 x 3 x H x W`` float32 batch.

    Raises:
        ValueError: ``num_images`` < 1, an empty dataset, or (with ``model_file``, a static
            graph) an image whose pre-processed size is not the graph's input size.
    """
    from mmengine.registry import DATASETS, DefaultScope

    from mmghost.models.utils import default_scope, load_config
    from mmghost.runtime.preprocess import Preprocessor
    from mmghost.runtime.backends import read_metadata
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f'the calibration set must hold at least one image, got '
                         f'num_images={num_images!r}')
    cfg = load_config(config)
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise ValueError(f'the config has no {split}_dataloader to calibrate on')
    dataset_cfg = dict(loader['dataset'])
    while 'dataset' in dataset_cfg:
        dataset_cfg = dict(dataset_cfg['dataset'])
    dataset_cfg['pipeline'] = []
    try:
        with DefaultScope.overwrite_default_scope(default_scope(cfg)):
            dataset = DATASETS.build(dataset_cfg)
            size = len(dataset)
    except Exception as e:  # datasets refuse an empty folder with several error types
        raise ValueError(f'the calibration set is empty or unreadable: {split}_dataloader.'
                         f'dataset (data_root {dataset_cfg.get("data_root")!r}): '
                         f'{type(e).__name__}: {e}') from None
    if size == 0:
        raise ValueError(f'the calibration set is empty: {split}_dataloader.dataset has no '
                         f'images (data_root {dataset_cfg.get("data_root")!r})')
    pre = Preprocessor(cfg)
    meta = read_metadata(model_file) if model_file else {}
    batches = []
    for i in range(min(num_images, len(dataset))):
        path = dataset.get_data_info(i)['img_path']
        x = pre([path])['inputs'].float().numpy()
        if meta.get('dynamic_hw') == 'false' and \
                meta.get('export_shape') != f'{x.shape[2]}x{x.shape[3]}':
            raise ValueError(
                f'calibration image {path} becomes {x.shape[2]}x{x.shape[3]} after the '
                f'config\'s pre-processing, but {model_file} was exported for '
                f'{meta.get("export_shape")} inputs; calibrate with the config the model was '
                f'exported from, or export with --dynamic-hw')
        batches.append(np.ascontiguousarray(x))
    return batches


def float_nodes(onnx_path: str, groups: Iterable[str]) -> List[str]:
    """Names of the ONNX nodes in the layer ``groups`` (see the module docstring)."""
    import onnx
    groups = set(groups)
    unknown = groups - set(LAYER_GROUPS)
    if unknown:
        raise ValueError(f'unknown layer groups {sorted(unknown)}; choose from {LAYER_GROUPS}')
    graph = onnx.load(onnx_path, load_external_data=False).graph
    names = []
    first = True
    for node in graph.node:
        if node.op_type not in ('Conv', 'Gemm', 'MatMul'):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == 'Conv' and first:
            first = False
            if 'first_conv' in groups:
                names.append(node.name)
                continue
        if 'head_outputs' in groups and _HEAD_OUTPUTS.search(node.name):
            names.append(node.name)
        elif 'depthwise' in groups and attrs.get('group', 1) > 1:
            names.append(node.name)
        elif 'dfc' in groups and 'short_conv' in node.name:
            names.append(node.name)
    return names


def default_backend(out_path: str) -> str:
    """The route for the runtime ``out_path`` is for: ``'openvino'`` for an IR (``.xml``),
    ``'onnxruntime'`` for ``.onnx`` (module docstring: each runtime's faster INT8 route).

    Raises:
        ValueError: Another suffix.
    """
    for backend, suffix in BACKEND_SUFFIX.items():
        if out_path.endswith(suffix):
            return backend
    raise ValueError(f'{out_path}: write INT8 models as .onnx (ONNX Runtime QDQ) or .xml '
                     f'(an OpenVINO IR, quantized by NNCF)')


def quantize_model(onnx_path: str,
                   out_path: str,
                   calibration: Sequence[np.ndarray],
                   backend: Optional[str] = None,
                   keep_float: Iterable[str] = DEFAULT_KEEP_FLOAT,
                   per_channel: bool = True,
                   method: str = 'percentile',
                   reduce_range: bool = False) -> Dict[str, object]:
    """Quantize the fp32 export ``onnx_path`` to INT8 at ``out_path`` (written only when done).

    Args:
        onnx_path (str): The fp32 ONNX export (mmghost metadata is carried over).
        out_path (str): ``.onnx`` for ``backend='onnxruntime'``, ``.xml`` for ``'openvino'``.
        calibration (list[np.ndarray]): Calibration batches (:func:`calibration_batches`).
        backend (str, optional): ``'onnxruntime'`` (QDQ) or ``'openvino'`` (NNCF); by
            default :func:`default_backend` of ``out_path``.
        keep_float (list[str]): Layer groups left in float.
        per_channel (bool): Per-channel weight scales. Defaults to True.
        method (str): ONNX Runtime's activation calibration, one of
            :data:`CALIBRATION_METHODS`. Defaults to ``'percentile'`` (min/max ranges cost the
            demo detector 0.023 mAP, percentiles 0.007). NNCF calibrates its own way.
        reduce_range (bool): 7-bit weights, which keep AVX2's u8 x s8 multiply-add (no VNNI)
            from saturating. Defaults to False.

    Returns:
        dict: ``path``, ``backend``, ``float_nodes`` (names kept in float), ``calibration``
        (number of batches).
    """
    if not calibration:
        raise ValueError('the calibration set is empty: pass at least one batch')
    if method not in CALIBRATION_METHODS:
        raise ValueError(f'unknown calibration method {method!r}; choose one of '
                         f'{CALIBRATION_METHODS}')
    if backend is None:
        backend = default_backend(out_path)
    if backend in BACKEND_SUFFIX and not out_path.endswith(BACKEND_SUFFIX[backend]):
        raise ValueError(f'the {backend} route writes {BACKEND_SUFFIX[backend]} files, got '
                         f'{out_path}')
    keep = float_nodes(onnx_path, keep_float)
    layout = _metadata(onnx_path).get('channel_layout', 'plain')
    if layout != 'plain':
        warnings.warn(f'{onnx_path} is {layout} (for ONNX Runtime\'s fp32 kernels); INT8 runs '
                      f'faster from the plain layout: export with --align-channels 0')
    folder = osp.dirname(osp.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    if backend == 'onnxruntime':
        _quantize_ort(onnx_path, out_path, calibration, keep, per_channel, folder, method,
                      reduce_range)
    elif backend == 'openvino':
        _quantize_openvino(onnx_path, out_path, calibration, keep)
    else:
        raise ValueError(f"unknown quantization backend {backend!r}; choose 'onnxruntime' or "
                         f"'openvino'")
    return dict(path=out_path, backend=backend, float_nodes=keep,
                calibration=len(calibration))


def _quantize_ort(onnx_path, out_path, calibration, keep, per_channel, folder, method,
                  reduce_range):
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    from mmghost.checkpoint.atomic import atomic_write

    class _Reader(CalibrationDataReader):

        def __init__(self):
            self.items = iter([{'input': b} for b in calibration])

        def get_next(self):
            return next(self.items, None)

    meta = _metadata(onnx_path)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = osp.join(tmp, 'int8.onnx')
        quantize_static(onnx_path, out, _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(keep),
                        op_types_to_quantize=['Conv', 'Gemm', 'MatMul'],
                        calibrate_method={'minmax': CalibrationMethod.MinMax,
                                          'percentile': CalibrationMethod.Percentile,
                                          'entropy': CalibrationMethod.Entropy}[method])
        proto = onnx.load(out)
        del proto.metadata_props[:]
        meta.update(precision='int8', quantized_by=f'onnxruntime QDQ (quantize_static, {method}'
                    + (', reduce_range' if reduce_range else '') + ')',
                    float_nodes=str(len(keep)), calibration_images=str(len(calibration)))
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        atomic_write(out_path, proto.SerializeToString())


def _quantize_openvino(onnx_path, out_path, calibration, keep):
    try:
        import nncf
        import openvino as ov
    except ImportError as e:
        raise ImportError('OpenVINO quantization needs openvino and nncf: pip install '
                          '"mmghost[deploy]"') from e
    from mmghost.runtime.backends import save_openvino
    model = ov.convert_model(onnx_path)
    names = {op.get_friendly_name() for op in model.get_ops()}
    ignored = nncf.IgnoredScope(names=[n for n in keep if n in names], validate=False)

    def quantize(**kwargs):
        return nncf.quantize(model, nncf.Dataset(list(calibration)),
                             subset_size=len(calibration), ignored_scope=ignored, **kwargs)

    how = 'nncf quantize'
    try:
        quantized = quantize()
    except ValueError as e:
        # NNCF 3.4's fast bias correction takes a broadcast constant added after a conv (the
        # "+ 3" of mmcv's HSigmoid in MobileNetV3's SE gates) for the conv's bias and fails
        # to write a per-channel correction into it; quantize without bias correction then.
        if not _raised_in(e, 'bias_correction'):
            raise
        warnings.warn(f'NNCF bias correction failed on {onnx_path} ({e}); quantized '
                      f'without it')
        quantized = quantize(advanced_parameters=nncf.AdvancedQuantizationParameters(
            disable_bias_correction=True))
        how += ' (bias correction off: NNCF could not correct this graph\'s biases)'
    save_openvino(onnx_path, out_path, quantized,
                  extra_metadata=dict(precision='int8', quantized_by=how,
                                      float_nodes=str(len(keep)),
                                      calibration_images=str(len(calibration))))


def _metadata(onnx_path: str) -> Dict[str, str]:
    import onnx
    proto = onnx.load(onnx_path, load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def _raised_in(error: BaseException, module_part: str) -> bool:
    """Whether ``error`` was raised in code whose file path contains ``module_part``."""
    tb = error.__traceback__
    while tb is not None:
        if module_part in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False
