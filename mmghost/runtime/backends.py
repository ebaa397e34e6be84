"""Running exported models: ONNX Runtime, OpenVINO and ncnn sessions behind one call (no torch).

``create_backend('onnxruntime' | 'openvino' | 'ncnn', path, num_threads)`` returns a callable
taking the normalized ``N x 3 x H x W`` float32 batch and returning the graph's outputs as
numpy arrays, in the order of the file's ``outputs`` metadata. OpenVINO reads the ONNX file
directly or an IR (``.xml``) written by :func:`save_openvino`, which keeps mmghost's metadata;
ncnn reads the ``.param`` + ``.bin`` pair written by :func:`mmghost.export.export_ncnn`, whose
metadata is the ``.json`` file beside them (:func:`ncnn_files`).
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['BACKENDS', 'ort_session', 'openvino_core', 'read_metadata', 'save_openvino',
           'create_backend', 'ncnn_files', 'ncnn_module', 'file_sha256', 'ModelFileError',
           'OnnxRuntimeBackend', 'OpenVINOBackend', 'NcnnBackend']

BACKENDS = ('onnxruntime', 'openvino', 'ncnn')


def _require(module: str, extra: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f'this backend needs {module.split(".")[0]}: pip install {extra} '
                          f'(or pip install "mmghost[deploy]")') from e


def ort_session(path: str, providers: Optional[Sequence[str]] = None,
                num_threads: Optional[int] = None):
    """An ONNX Runtime session with all graph optimizations (NCHWc layout included),
    ``num_threads`` intra-op threads (None: ONNX Runtime's default) and one inter-op thread."""
    ort = _require('onnxruntime', 'onnxruntime')
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads:
        opts.intra_op_num_threads = int(num_threads)
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts,
                                providers=list(providers or ['CPUExecutionProvider']))


def openvino_core():
    return _require('openvino', 'openvino').Core()


def ncnn_module():
    """The ``ncnn`` package (ImportError naming the pinned wheel when it is missing)."""
    return _require('ncnn', 'ncnn==1.0.20261020')


def ncnn_files(path: str) -> Tuple[str, str, str]:
    """``(NAME.ncnn.param, NAME.ncnn.bin, NAME.ncnn.json)`` of an ncnn model given by its
    ``.ncnn.param`` file (pnnx's naming: a plain ``NAME.bin`` is an OpenVINO IR's weights when
    ``NAME.xml`` sits beside it).

    Raises:
        ValueError: ``path`` does not end in ``.ncnn.param``.
    """
    if not str(path).endswith('.ncnn.param'):
        raise ValueError(f'an ncnn model is given by its .ncnn.param file (its .ncnn.bin and '
                         f'mmghost\'s .ncnn.json sit beside it), got {path}')
    stem = str(path)[:-len('.param')]
    return stem + '.param', stem + '.bin', stem + '.json'


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _ncnn_metadata(path: str) -> Dict[str, str]:
    _, _, meta_path = ncnn_files(path)
    if not osp.isfile(meta_path):
        return {}
    with open(meta_path) as f:
        return {str(k): str(v) for k, v in json.load(f).items()}


def read_metadata(path: str) -> Dict[str, str]:
    """mmghost's metadata of an ONNX file (``metadata_props``), an OpenVINO IR (``rt_info``)
    or an ncnn model (the ``.json`` beside its ``.param``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'model file {path} does not exist')
    if path.endswith('.param'):
        return _ncnn_metadata(path)
    if path.endswith('.xml'):
        model = openvino_core().read_model(path)
        if not model.has_rt_info(['mmghost']):
            return {}
        keys = model.get_rt_info(['mmghost']).astype(dict)
        return {str(k): model.get_rt_info(['mmghost', k]).astype(str) for k in keys}
    onnx = _require('onnx', 'onnx')
    proto = onnx.load(path, load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def save_openvino(onnx_path: str, xml_path: str, model=None,
                  extra_metadata: Optional[Dict[str, str]] = None) -> str:
    """Convert an ONNX file (or an already read/quantized OpenVINO ``model``) to an OpenVINO
    IR (``.xml`` + ``.bin``), carrying mmghost's metadata (updated with ``extra_metadata``)
    along. Both files are written next to their targets first and moved into place only when
    OpenVINO is done, so an interrupted save leaves no half-written IR."""
    ov = _require('openvino', 'openvino')
    if not xml_path.endswith('.xml'):
        raise ValueError(f'an OpenVINO IR is written as .xml (+ .bin), got {xml_path}')
    meta = dict(read_metadata(onnx_path), **(extra_metadata or {}))
    if model is None:
        model = ov.convert_model(onnx_path)
    for key, value in meta.items():
        model.set_rt_info(str(value), ['mmghost', key])
    folder = osp.dirname(osp.abspath(xml_path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        tmp_xml = osp.join(tmp, 'model.xml')
        ov.save_model(model, tmp_xml, compress_to_fp16=False)
        os.replace(tmp_xml[:-4] + '.bin', xml_path[:-4] + '.bin')
        os.replace(tmp_xml, xml_path)
    return xml_path


class ModelFileError(ValueError):
    """A model file a backend refuses before trying to run it (the message names the fix)."""


class _Backend:
    """Outputs in the order of the file's ``outputs`` metadata (a runtime may reorder them)."""

    name = ''

    def _order_outputs(self, path: str, names: List[str]) -> None:
        wanted = json.loads(read_metadata(path).get('outputs', 'null') or 'null')
        if wanted and sorted(wanted) == sorted(names):
            self.order = [names.index(n) for n in wanted]
            self.output_names = list(wanted)
        else:
            self.order = list(range(len(names)))
            self.output_names = list(names)

    def __call__(self, batch) -> List:
        outs = self._run(batch)
        return [outs[i] for i in self.order]


class OnnxRuntimeBackend(_Backend):
    """``batch -> outputs`` through ONNX Runtime (CPU, or CUDA when ``device`` says so)."""

    name = 'onnxruntime'

    def __init__(self, path: str, num_threads: Optional[int] = None, device: str = 'cpu'):
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda'):
            providers.insert(0, 'CUDAExecutionProvider')
        self.session = ort_session(path, providers, num_threads)
        self.input_name = self.session.get_inputs()[0].name
        self._order_outputs(path, [o.name for o in self.session.get_outputs()])

    def _run(self, batch) -> List:
        return self.session.run(None, {self.input_name: batch})


class OpenVINOBackend(_Backend):
    """``batch -> outputs`` through OpenVINO (``device`` ``'cpu'`` -> OpenVINO's ``CPU``).

    ``precision`` is the precision OpenVINO computes the float parts of the graph in
    (``INFERENCE_PRECISION_HINT``; INT8 parts of a quantized IR stay INT8). It is ``'f32'``
    unless asked otherwise: OpenVINO's own CPU default is ``bf16`` on CPUs with AVX-512 BF16
    or AMX, which moves detection scores by about 1e-2 and no longer matches the PyTorch model.
    """

    name = 'openvino'
    PRECISIONS = ('f32', 'bf16', 'f16')

    def __init__(self, path: str, num_threads: Optional[int] = None, device: str = 'cpu',
                 precision: str = 'f32'):
        if precision not in self.PRECISIONS:
            raise ValueError(f'unknown OpenVINO inference precision {precision!r}; choose one '
                             f'of {list(self.PRECISIONS)}')
        core = openvino_core()
        config = {'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': precision}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        target = 'CPU' if str(device).lower() == 'cpu' else str(device).upper()
        self.compiled = core.compile_model(core.read_model(path), target, config)
        self.request = self.compiled.create_infer_request()
        self._order_outputs(path, [o.get_any_name() for o in self.compiled.outputs])

    def _run(self, batch) -> List:
        result = self.request.infer({0: batch})
        return [result[o] for o in self.compiled.outputs]


class NcnnBackend(_Backend):
    """``batch -> outputs`` through ncnn (CPU), one image at a time.

    The model is the ``.param`` file of :func:`mmghost.export.export_ncnn`; its ``.bin`` and
    metadata ``.json`` must sit beside it and be the files the metadata describes (SHA-256).
    ncnn computes in float32 here: its x86 default stores activations in float16 (``use_fp16_
    storage``), about 1e-3 of an output away from PyTorch.
    """

    name = 'ncnn'

    def __init__(self, path: str, num_threads: Optional[int] = None, device: str = 'cpu'):
        if str(device).lower() != 'cpu':
            raise ModelFileError(f'the ncnn backend runs on the CPU here, got device={device!r}')
        ncnn = ncnn_module()
        param, bin_path, meta_path = ncnn_files(path)
        meta = _ncnn_metadata(param)
        if not meta:
            raise ModelFileError(f'{param} has no mmghost metadata file {meta_path}: export '
                                 f'the model with tools/deployment/pytorch2ncnn.py (or '
                                 f'mmghost.export.export_ncnn)')
        if not osp.isfile(bin_path):
            raise FileNotFoundError(f'the weights {bin_path} of {param} do not exist')
        for f, key in ((param, 'param_sha256'), (bin_path, 'bin_sha256')):
            if meta.get(key) and file_sha256(f) != meta[key]:
                raise ModelFileError(f'{f} is not the file {meta_path} describes (another '
                                     f'export or config); export the model again, writing all '
                                     f'three files together')
        self.ncnn = ncnn
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = False
        opt.use_bf16_storage = False
        opt.use_vulkan_compute = False
        if num_threads:
            opt.num_threads = int(num_threads)
        if self.net.load_param(param) != 0 or self.net.load_model(bin_path) != 0:
            raise ValueError(f'ncnn cannot load {param} with {bin_path}')
        blobs = json.loads(meta.get('ncnn_blobs', '{}') or '{}')
        self.input_blob = blobs.get('input', 'in0')
        self.output_blobs = blobs.get('outputs') or list(self.net.output_names())
        names = json.loads(meta.get('outputs', 'null') or 'null') or self.output_blobs
        self.order = list(range(len(self.output_blobs)))
        self.output_names = list(names)

    def _run(self, batch) -> List:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4:
            raise ValueError(f'ncnn takes an N x 3 x H x W batch, got shape {batch.shape}')
        per_image = []
        for i in range(batch.shape[0]):
            ex = self.net.create_extractor()
            # One 1 x 3 x H x W image at batch_index 0, cloned (a Mat wraps the array's
            # memory). ncnn 1.0.20261020's Python Mat misreads a 3-D array and any
            # batch_index other than 0.
            image = np.ascontiguousarray(batch[i:i + 1])
            ex.input(self.input_blob, self.ncnn.Mat(image, batch_index=0).clone())
            outs = []
            for blob in self.output_blobs:
                ret, mat = ex.extract(blob)
                if ret != 0:
                    raise RuntimeError(f'ncnn could not compute {blob} (error {ret})')
                outs.append(np.array(mat, copy=True))
            per_image.append(outs)
        return [np.stack([o[k] for o in per_image]) for k in range(len(self.output_blobs))]


def create_backend(backend: str, path: str, num_threads: Optional[int] = None,
                   device: str = 'cpu'):
    """A backend session of ``path`` (outputs in the file's ``outputs`` metadata order).

    Raises:
        ValueError: An unknown backend name, or a file the runtime cannot load (the message
            names the ops outside the ONNX standard, if any).
        FileNotFoundError: No such model file.
        ImportError: The backend's package is not installed (the message says what to install).
    """
    classes = {'onnxruntime': OnnxRuntimeBackend, 'openvino': OpenVINOBackend,
               'ncnn': NcnnBackend}
    if backend not in classes:
        raise ValueError(f'unknown backend {backend!r}; choose one of {list(classes)} (or '
                         f"'pytorch' with a checkpoint)")
    if not osp.isfile(path):
        raise FileNotFoundError(f'model file {path} does not exist')
    try:
        return classes[backend](path, num_threads, device)
    except (ImportError, FileNotFoundError, ModelFileError):
        raise
    except Exception as e:  # the runtimes raise their own types for graphs they cannot load
        raise ValueError(_load_failure(backend, path, e)) from None


def _foreign_ops(path: str) -> List[str]:
    """``domain::op`` of the ONNX graph's nodes outside the standard ONNX domains."""
    try:
        import onnx
        graph = onnx.load(path, load_external_data=False).graph
    except Exception:  # noqa: BLE001  (an IR or an unreadable file: nothing to list)
        return []
    return sorted({f'{n.domain}::{n.op_type}' for n in graph.node
                   if n.domain not in ('', 'ai.onnx')})


def _load_failure(backend: str, path: str, error: Exception) -> str:
    first = (str(error).strip().splitlines() or [''])[0][:300]
    msg = f'{backend} cannot load {path}: {type(error).__name__}: {first}'
    foreign = _foreign_ops(path) if path.endswith('.onnx') else []
    if foreign:
        msg += (f'; the graph has ops outside the ONNX standard that {backend} does not run: '
                f'{", ".join(foreign)}. Export with mmghost (tools/deployment/pytorch2onnx.py), '
                f'whose graphs use standard ONNX ops only')
    return msg
