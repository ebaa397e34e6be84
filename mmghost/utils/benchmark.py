"""Inference latency of several models side by side: the pieces of
``tools/analysis_tools/benchmark_latency.py``, importable by ``benchmarks/`` scripts.

A model is named by a *spec*: a config path or an ``mmdet::``/``mmpretrain::``/``mmghost::``
config name, or ``timm:NAME``, optionally followed by a form: ``@deploy`` (re-parameterized),
``@both`` (training and deploy form, two rows) or ``@ort`` (the deploy form exported to ONNX
and run by ONNX Runtime). :func:`run_benchmark` builds every spec's forms and times them, in
every requested dtype and batch size, in interleaved rounds
(:func:`mmghost.utils.timing.time_interleaved`); it returns one row (a dict) per
model x form x dtype x batch x part. :func:`report`, :func:`write_json` and :func:`plot`
present the rows. From a script::

    from mmghost.utils.benchmark import report, run_benchmark
    rows = run_benchmark(['mmghost::classification/_base_/models/ghostnetv3.py@both',
                          'timm:ghostnetv3_100@deploy'], batches=(1, 8),
                         dtypes=('fp32', 'bf16'), threads=2)
    print(report(rows))

Choices:

* ``bf16`` converts the model and the input with ``.to(torch.bfloat16)`` (pure bf16
  inference, no autocast: autocast would keep some ops in fp32 and add casts); ``fp16``
  likewise with ``torch.float16``. Each torch row is called once before timing; a call that
  raises (no kernel for the dtype on this device, mmdet's NMS wanting fp32, ...) makes the row
  ``unsupported`` with the error as its reason instead of stopping the run.
* ONNX Runtime rows export the fp32 deploy form once per part and batch size (static shapes),
  run it with ``intra_op_num_threads`` = the torch thread count and all graph optimizations,
  and are ``unsupported`` in other dtypes. Detectors' ``predict`` (box decoding, NMS) is not
  exported: their full-model ORT rows are ``unsupported`` (``--part backbone`` works).
* Params and MACs (conv + linear multiply-accumulates per image at the input shape,
  :func:`mmghost.utils.complexity.count_complexity`) are counted once per model form and part
  on the fp32 CPU model, outside the timing.
"""
import copy
import json
import os.path as osp
import re
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .deploy import build_model as build_config_model
from .deploy import det_samples, is_detector, load_config

__all__ = [
    'BenchmarkError', 'Unsupported', 'ModelSpec', 'Variant', 'DTYPES', 'FORMS', 'TOP1',
    'parse_spec', 'model_label', 'load_config', 'build_model', 'to_deploy', 'is_detector',
    'part_module', 'make_input', 'prepare_model', 'make_call', 'export_onnx_minimal',
    'make_ort_call', 'part_complexity', 'model_complexity', 'lookup_top1', 'resolve_device',
    'build_variants', 'time_variants', 'run_benchmark', 'percentile', 'markdown_table',
    'report', 'write_json', 'plot'
]

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
# form suffix -> the rows it gives
FORMS = {'': ('train', ), 'train': ('train', ), 'deploy': ('deploy', ),
         'both': ('train', 'deploy'), 'ort': ('ort', )}


class BenchmarkError(ValueError):
    """A bad model spec or option; the message is meant for the user."""


class Unsupported(Exception):
    """A row that cannot run (its reason becomes the table's entry)."""


# --------------------------------------------------------------------------- models


@dataclass
class ModelSpec:
    spec: str  # as given, e.g. 'configs/x.py@both'
    name: str  # the model part: config path, mmdet::NAME or timm:NAME
    forms: Tuple[str, ...]  # 'train', 'deploy', 'ort'

    @property
    def is_timm(self) -> bool:
        return self.name.startswith('timm:')


def parse_spec(spec: str) -> ModelSpec:
    """``MODEL[@train|@deploy|@both|@ort]`` -> :class:`ModelSpec` (raises BenchmarkError)."""
    name, sep, form = spec.rpartition('@')
    if not sep:
        name, form = spec, ''
    if form not in FORMS or (sep and not form):
        raise BenchmarkError(
            f'unknown form {form!r} in {spec!r}; use MODEL (training form), MODEL@deploy, '
            'MODEL@both (training and deploy rows) or MODEL@ort (deploy form in ONNX Runtime)')
    if name.startswith('timm:'):
        if not name[len('timm:'):].strip(':'):
            raise BenchmarkError(f'{spec!r}: give a timm model name, e.g. timm:ghostnetv3_100')
    elif '::' not in name and not osp.isfile(name):
        raise BenchmarkError(
            f'{name!r}: no such config file (give a config path, an mmdet::/mmpretrain::/'
            'mmghost:: config name or timm:NAME)')
    return ModelSpec(spec, name, FORMS[form])


def model_label(name: str) -> str:
    """Short row name: ``timm:NAME`` as is; a config's file stem without the schedule part
    (``ghostnetv3-1.0x_8xb256-lamb-600e_in1k`` -> ``ghostnetv3-1.0x``)."""
    if name.startswith('timm:'):
        return 'timm:' + name[len('timm:'):].strip(':')
    stem = re.sub(r'\.py$', '', osp.basename(name.split('::')[-1]))
    return re.sub(r'_\d+xb\d+.*$', '', stem)


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
        cfg = load_config(name)
        for t in cfg.model.get('teachers', None) or []:  # KD: teachers' weights not needed
            if isinstance(t, dict) and t.get('checkpoint') and not osp.isfile(t['checkpoint']):
                t['checkpoint'] = None
        model = build_config_model(cfg)
    model.eval()
    return to_deploy(model, name) if deploy else model


def to_deploy(model: nn.Module, name: str = '') -> nn.Module:
    """Re-parameterize in place: ``timm.utils.reparameterize_model`` for ``timm:`` models,
    else :func:`mmghost.switch_to_deploy`, which fuses mmghost blocks and calls
    ``switch_to_deploy()`` on other modules having it (mmpretrain's MobileOne, RepVGG, ...)."""
    if name.startswith('timm:'):
        timm = _import_timm(name)
        return timm.utils.reparameterize_model(model, inplace=True).eval()
    from mmghost import switch_to_deploy
    return switch_to_deploy(model).eval()


class _Part(nn.Module):
    """A model part as a plain ``tensor -> tensor(s)`` module (for MACs and ONNX export):
    ``backbone`` is ``model.backbone`` (timm: ``forward_features``); ``model`` is an
    OpenMMLab model in ``mode='tensor'`` (detectors: raw head outputs) or a plain model."""

    def __init__(self, model: nn.Module, part: str):
        super().__init__()
        self.model, self.part = model, part

    def forward(self, x):
        m = self.model
        if self.part == 'backbone':
            return m.backbone(x) if hasattr(m, 'backbone') else m.forward_features(x)
        if is_detector(m):
            return m(x, det_samples(x), mode='tensor')
        if hasattr(m, 'data_preprocessor'):
            return m(x, mode='tensor')
        return m(x)


def part_module(model: nn.Module, part: str) -> nn.Module:
    if part not in ('model', 'backbone'):
        raise BenchmarkError(f'unknown part {part!r}; use model or backbone')
    if part == 'backbone' and not (hasattr(model, 'backbone')
                                   or hasattr(model, 'forward_features')):
        raise BenchmarkError(f'{type(model).__name__} has no backbone (nor forward_features)')
    return _Part(model, part).eval()


def make_input(batch: int, shape: Tuple[int, int], dtype: torch.dtype = torch.float32,
               device='cpu', channels_last: bool = False) -> torch.Tensor:
    """A random normalized ``batch x 3 x H x W`` image batch."""
    x = torch.randn(batch, 3, *shape, device=device).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def prepare_model(model: nn.Module, dtype: torch.dtype = torch.float32, device='cpu',
                  channels_last: bool = False) -> nn.Module:
    """A copy of ``model`` in ``dtype`` on ``device`` (and NHWC); the original is untouched."""
    m = copy.deepcopy(model).to(device=device, dtype=dtype)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m.eval()


def make_call(model: nn.Module, part: str, batch: int, shape: Tuple[int, int],
              dtype: torch.dtype = torch.float32, device='cpu',
              channels_last: bool = False) -> Callable[[], object]:
    """A no-argument function running one inference of ``part`` on a fixed random input.

    ``model`` must already be in ``dtype`` on ``device`` (:func:`prepare_model`). Detectors
    run ``predict`` (network + box decoding + NMS); other OpenMMLab models ``mode='tensor'``;
    timm models their forward (``forward_features`` for ``part='backbone'``).
    """
    h, w = shape
    inputs = make_input(batch, (h, w), dtype, device, channels_last)
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


# ---------------------------------------------------------------------------- ONNX Runtime


def export_onnx_minimal(model: nn.Module, path: str, shape: Tuple[int, int] = (224, 224),
                        dynamic_batch: bool = False, dynamic_hw: bool = False, opset: int = 17,
                        batch_size: int = 1) -> str:
    """Export a plain ``tensor -> tensor(s)`` module (a timm model) to ONNX as it is.

    ``shape`` is ``(H, W)``, traced at ``batch_size``. OpenMMLab models use
    :func:`mmghost.utils.onnx.export_onnx` instead (see :func:`make_ort_call`).
    """
    model = model.eval()
    dummy = torch.randn(batch_size, 3, *shape)
    axes = {}
    if dynamic_batch:
        axes[0] = 'batch'
    if dynamic_hw:
        axes.update({2: 'height', 3: 'width'})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        outputs = model(dummy)
        n_out = len(outputs) if isinstance(outputs, (list, tuple)) else 1
        out_names = [f'output{i}' for i in range(n_out)]
        torch.onnx.export(
            model, (dummy, ), path, dynamo=False, opset_version=opset, input_names=['input'],
            output_names=out_names,
            dynamic_axes={n: dict(axes) for n in ['input'] + out_names} if axes else None)
    return path


def make_ort_call(model: nn.Module, part: str, batch: int, shape: Tuple[int, int],
                  threads: int, workdir: str, device='cpu') -> Tuple[Callable[[], object], str]:
    """Export ``part`` of the (deploy-form) ``model`` in fp32 at this batch and shape into
    ``workdir`` and return a function running it in ONNX Runtime, and the provider used."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        raise Unsupported(f'onnxruntime is not installed: {e}') from e
    if part == 'model' and is_detector(model):
        raise Unsupported('a detector\'s predict (box decoding, NMS) is not exported; '
                          'use --part backbone')
    from .onnx import export_onnx, ort_session
    path = tempfile.NamedTemporaryFile(suffix='.onnx', dir=workdir, delete=False).name
    try:
        if hasattr(model, 'data_preprocessor') or hasattr(model, 'out_indices'):
            # OpenMMLab models go through the project's exporter (what
            # tools/deployment/pytorch2onnx.py writes).
            export_onnx(model.cpu().float(), path, shape, dynamic_batch=False,
                        batch_size=batch, backbone_only=part == 'backbone')
        else:  # timm and other plain modules, as they are
            export_onnx_minimal(part_module(model, part), path, shape, batch_size=batch)
    except Exception as e:  # an op without an ONNX export
        raise Unsupported(f'ONNX export failed: {type(e).__name__}: {_first_line(e)}') from e
    providers = ['CPUExecutionProvider']
    if str(device).startswith('cuda') and 'CUDAExecutionProvider' in ort.get_available_providers():
        providers.insert(0, 'CUDAExecutionProvider')
    try:
        sess = ort_session(path, providers, threads)
    except Exception as e:  # noqa: BLE001  (an op ONNX Runtime cannot load)
        raise Unsupported(f'ONNX Runtime: {type(e).__name__}: {_first_line(e)}') from e
    feed = {sess.get_inputs()[0].name: np.random.randn(batch, 3, *shape).astype(np.float32)}

    def call():
        return sess.run(None, feed)

    call.onnx_path = path  # time_variants times CPU sessions in a torch-free process
    return call, sess.get_providers()[0]


# ---------------------------------------------------------------------------- complexity, top-1


def _used_params(module: nn.Module, x: torch.Tensor) -> int:
    """Parameters of the sub-modules that one forward of ``module`` on ``x`` calls."""
    called, hooks = set(), []
    for m in module.modules():
        hooks.append(m.register_forward_pre_hook(lambda mod, inp: called.add(id(mod))))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in hooks:
            h.remove()
    seen = {}
    for m in module.modules():
        if id(m) in called:
            for p in m.parameters(recurse=False):
                seen[id(p)] = p.numel()
    return sum(seen.values())


def _macs(module: nn.Module, shape: Tuple[int, int], modules: Sequence[str] = ()):
    """count_complexity of a plain module, or None (with a warning) when tracing fails."""
    from mmghost.utils.complexity import count_complexity
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return count_complexity(module, shape, modules=modules)
    except Exception as e:  # noqa: BLE001  (tracing can fail on exotic models)
        print(f'warning: MACs of {type(module).__name__} not counted: '
              f'{type(e).__name__}: {_first_line(e)}', file=sys.stderr)
        return None


def _part_params(model: nn.Module, part: str, shape: Tuple[int, int]) -> int:
    if part == 'model':
        return sum(p.numel() for p in model.parameters())
    if hasattr(model, 'backbone'):
        return sum(p.numel() for p in model.backbone.parameters())
    return _used_params(part_module(model, part), make_input(1, shape))  # timm


def part_complexity(model: nn.Module, part: str, shape: Tuple[int, int]) -> Dict[str, int]:
    """``params`` of the part and its conv + linear ``macs`` per image at ``shape`` (None
    where FlopAnalyzer fails)."""
    r = _macs(part_module(model, part), shape)
    return dict(params=_part_params(model, part, shape), macs=r and r['macs'])


def model_complexity(model: nn.Module, parts: Sequence[str],
                     shape: Tuple[int, int]) -> Dict[str, Dict[str, int]]:
    """:func:`part_complexity` of each part; with both parts of a model that has a
    ``backbone``, one trace of the whole model gives both."""
    out = {}
    if 'model' in parts and 'backbone' in parts and hasattr(model, 'backbone'):
        r = _macs(part_module(model, 'model'), shape, modules=('model.backbone', ))
        bb = r and r['module_macs']['model.backbone']
        if bb:
            out['model'] = dict(params=_part_params(model, 'model', shape), macs=r['macs'])
            out['backbone'] = dict(params=_part_params(model, 'backbone', shape), macs=bb)
    for part in parts:
        if part not in out:
            out[part] = part_complexity(model, part, shape)
    return out


# ImageNet-1k top-1 (%) of the published models, with where each number comes from.
# Keys: "<Family> <width>x" for configs (the backbone type and widen factor of a 1000-class
# classifier) and "timm:NAME" for timm models (timm's own weights).
_V1, _V3T9 = 'GhostNet paper, Table 7', 'GhostNetV3 paper, Table 9'
TOP1: Dict[str, Tuple[float, str]] = {
    'GhostNet 0.5x': (66.2, _V1),
    'GhostNet 1.0x': (73.9, _V1),
    'GhostNet 1.3x': (75.7, _V1),
    'GhostNetV2 1.0x': (75.3, 'GhostNetV2 paper (GhostNetV3 paper, Table 9)'),
    'GhostNetV2 1.3x': (76.9, _V3T9),
    'GhostNetV2 1.6x': (77.8, _V3T9),
    'GhostNetV3 0.5x': (69.4, _V3T9 + '; its 0.5x params/FLOPs do not match the code'),
    'GhostNetV3 1.0x': (77.1, _V3T9 + ', EMA weights'),
    'GhostNetV3 1.3x': (79.1, _V3T9 + ' and abstract'),
    'GhostNetV3 1.6x': (80.4, _V3T9),
    'RepGhostNet 0.5x': (66.9, 'RepGhost paper, Table 3'),
    'RepGhostNet 0.58x': (68.9, 'RepGhost paper, Table 3'),
    'RepGhostNet 0.8x': (72.2, 'RepGhost README'),
    'RepGhostNet 1.0x': (74.2, 'RepGhost paper, Table 3'),
    'RepGhostNet 1.11x': (75.1, 'RepGhost paper, Table 3'),
    'RepGhostNet 1.3x': (76.4, 'RepGhost paper, Table 3'),
    'RepGhostNet 1.5x': (77.5, 'RepGhost paper, Table 3'),
    'RepGhostNet 2.0x': (78.8, 'RepGhost README'),
    'MobileNetV2 1.0x': (71.86, 'mmpretrain zoo, mobilenet-v2_8xb32_in1k'),
    'MobileNetV3-L': (74.04, 'mmpretrain zoo, mobilenet-v3-large_3rdparty_in1k: torchvision '
                      'weights; mmpretrain-trained 8xb128: 73.49'),
    'MobileOne-S0': (71.34, 'mmpretrain zoo, mobileone-s0_8xb32_in1k'),
    'ShuffleNetV2 1.0x': (69.55, 'mmpretrain zoo, shufflenet-v2-1x_16xb64_in1k'),
    'timm:ghostnet_100': (73.958, 'timm results-imagenet.csv, ghostnet_100.in1k'),
    'timm:ghostnetv2_100': (75.186, 'timm results-imagenet.csv, ghostnetv2_100.in1k'),
    'timm:ghostnetv3_100': (76.936, 'timm results-imagenet.csv, ghostnetv3_100.in1k, '
                            'non-EMA weights'),
    'timm:repghostnet_100': (74.208, 'timm results-imagenet.csv, repghostnet_100.in1k'),
    'timm:mobilenetv3_large_100': (75.766, 'timm results-imagenet.csv, '
                                   'mobilenetv3_large_100.ra_in1k'),
    'timm:mobilenetv2_100': (72.976, 'timm results-imagenet.csv, mobilenetv2_100.ra_in1k'),
}
_TIMM_FAMILIES = {'ghostnet': 'GhostNet', 'ghostnetv2': 'GhostNetV2', 'ghostnetv3': 'GhostNetV3',
                  'repghostnet': 'RepGhostNet'}


def _width(w: float) -> str:
    s = f'{float(w):g}'
    return s if '.' in s else s + '.0'


def _arch_name(name: str) -> Optional[str]:
    """The :data:`TOP1` key of a spec's model (None for detectors and unknown models)."""
    if name.startswith('timm:'):
        arch = name[len('timm:'):].strip(':')
        if 'timm:' + arch in TOP1:
            return 'timm:' + arch
        m = re.fullmatch(r'(ghostnet|ghostnetv2|ghostnetv3|repghostnet)_(\d)(\d+)', arch)
        if m:  # ghostnetv3_130 -> GhostNetV3 1.3x, repghostnet_058 -> RepGhostNet 0.58x
            return f'{_TIMM_FAMILIES[m.group(1)]} {_width(float(m.group(2) + "." + m.group(3)))}x'
        return None
    try:
        cfg = load_config(name)
        head, backbone = cfg.model.get('head'), cfg.model.get('backbone')
        if not head or not backbone or head.get('num_classes') != 1000:
            return None  # a 1000-class ImageNet classifier only
        t = str(backbone.get('type', '')).split('.')[-1]
        if t in ('GhostNet', 'GhostNetV2', 'GhostNetV3', 'RepGhostNet', 'MobileNetV2',
                 'ShuffleNetV2'):
            return f'{t} {_width(backbone.get("widen_factor", 1.0))}x'
        if t == 'MobileNetV3' and backbone.get('arch', 'small') == 'large':
            return 'MobileNetV3-L'
        if t == 'MobileOne':
            return f'MobileOne-{str(backbone.get("arch", "")).upper()}'
    except Exception:  # noqa: BLE001  (no top-1 is not an error)
        return None
    return None


def lookup_top1(label: str, arch: Optional[str],
                overrides: Optional[Dict[str, float]] = None) -> Tuple[Optional[float], str]:
    """``(top1, source)`` for a row: ``--top1`` overrides (by label or arch name) first, then
    :data:`TOP1`; timm names without their own entry fall back to the paper's number."""
    overrides = overrides or {}
    for key in (label, arch):
        if key is not None and key in overrides:
            return overrides[key], 'given with --top1'
    if arch in TOP1:
        value, source = TOP1[arch]
        if label.startswith('timm:') and not arch.startswith('timm:'):
            source += '; the paper\'s number for the architecture'
        return value, source
    return None, ''


# ---------------------------------------------------------------------------- running


@dataclass
class Variant:
    """One model form to time: ``model`` is the fp32 CPU model (deploy form for ``ort``)."""
    label: str
    spec: str
    form: str  # 'train', 'deploy' or 'ort'
    model: nn.Module
    arch: Optional[str] = None


def resolve_device(device: Optional[str]) -> str:
    if device in (None, 'auto'):
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise BenchmarkError(f'--device {device}: CUDA is not available here')
    return str(device)


def build_variants(specs: Sequence[str], log=None) -> List[Variant]:
    """Parse every spec first (so a bad one fails before anything is built), then build the
    forms each asks for: each model name is built once, its deploy form is a re-parameterized
    copy (shared by ``@deploy``, ``@both`` and ``@ort`` of that name)."""
    parsed = [parse_spec(s) for s in specs]
    variants, labels, built = [], {}, {}
    for ps in parsed:
        label = model_label(ps.name)
        if labels.setdefault(label, ps.name) != ps.name:  # two configs with one stem
            i = 2
            while f'{label}#{i}' in labels:
                i += 1
            label = f'{label}#{i}'
            labels[label] = ps.name
        train, deploy = built.get(ps.name, (None, None))  # one build per model name
        if train is None:
            if log:
                log(f'building {ps.name}')
            train = build_model(ps.name)
        if deploy is None and any(f in ('deploy', 'ort') for f in ps.forms):
            deploy = to_deploy(copy.deepcopy(train), ps.name)
        built[ps.name] = (train, deploy)
        arch = _arch_name(ps.name)
        for form in ps.forms:
            variants.append(Variant(label, ps.spec, form, train if form == 'train' else deploy,
                                    arch))
    return variants


def _first_line(e: BaseException, limit: int = 300) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else '')[:limit]


def _stats(times: List[float]) -> Dict[str, float]:
    return dict(median_ms=statistics.median(times), p10_ms=percentile(times, 0.1),
                p90_ms=percentile(times, 0.9))


def time_variants(variants: Sequence[Variant], parts: Sequence[str] = ('model', ),
                  batches: Sequence[int] = (1, ), dtypes: Sequence[str] = ('fp32', ),
                  shape: Tuple[int, int] = (224, 224), device: str = 'cpu',
                  channels_last: bool = False, threads: Optional[int] = None, warmup: int = 5,
                  rounds: int = 5, repeats: int = 10,
                  top1: Optional[Dict[str, float]] = None, log=None) -> List[dict]:
    """Time every variant x dtype, one interleaved table per part and batch size.

    PyTorch rows are interleaved in this process; CPU ONNX Runtime rows are interleaved
    among themselves in a fresh process without torch (:mod:`mmghost.utils.ort_timing`).

    Returns one dict per variant x dtype x batch x part with ``model, arch, spec, form, part,
    dtype, batch, device, channels_last, provider`` (ONNX Runtime's execution provider for
    ``ort`` rows, else None) ``, params, macs, status ('ok'/'unsupported'), reason,
    median_ms, p10_ms, p90_ms, ratio, top1, top1_source, times_ms``; ``ratio`` is the median
    over the median of the first ``ok`` row of the same part and batch.
    """
    from mmghost.utils.ort_timing import time_onnx_in_subprocess
    from mmghost.utils.timing import time_interleaved
    for d in dtypes:
        if d not in DTYPES:
            raise BenchmarkError(f'unknown dtype {d!r}; use {", ".join(DTYPES)}')
    ort_threads = threads or torch.get_num_threads()
    sync = torch.cuda.synchronize if str(device).startswith('cuda') else None
    complexity, prepared, rows = {}, {}, []
    for v in variants:  # counted once per model form (ORT: its deploy model), not timed
        if id(v.model) not in complexity:
            if log:
                log(f'counting params and MACs of {v.label} ({v.form})')
            complexity[id(v.model)] = model_complexity(v.model, parts, shape)
    with tempfile.TemporaryDirectory(prefix='mmghost_ort_') as workdir:
        for part in parts:
            for batch in batches:
                if log:
                    log(f'timing {part}, batch {batch}')
                table, calls, ort_files = [], {}, {}
                for v in variants:
                    for dt in dtypes:
                        t1, t1_src = lookup_top1(v.label, v.arch, top1)
                        row = dict(model=v.label, arch=v.arch, spec=v.spec, form=v.form,
                                   part=part, dtype=dt, batch=batch, device=str(device),
                                   channels_last=channels_last, provider=None,
                                   **complexity[id(v.model)][part], status='ok', reason='',
                                   median_ms=None, p10_ms=None, p90_ms=None, ratio=None,
                                   top1=t1, top1_source=t1_src, times_ms=[])
                        try:
                            if v.form == 'ort':
                                if dt != 'fp32':
                                    raise Unsupported('ONNX Runtime rows run the fp32 export')
                                fn, provider = make_ort_call(v.model, part, batch, shape,
                                                             ort_threads, workdir, device)
                                row['provider'] = provider
                            else:
                                key = (id(v.model), dt)
                                if key not in prepared:
                                    prepared[key] = prepare_model(v.model, DTYPES[dt], device,
                                                                  channels_last)
                                fn = make_call(prepared[key], part, batch, shape, DTYPES[dt],
                                               device, channels_last)
                            try:  # one call: what this device/dtype cannot run is reported
                                with torch.inference_mode():
                                    fn()
                                if sync:
                                    sync()
                            except Exception as e:  # noqa: BLE001
                                raise Unsupported(f'{type(e).__name__}: {_first_line(e)}')
                            if v.form == 'ort' and row['provider'] == 'CPUExecutionProvider':
                                ort_files[str(len(table))] = fn.onnx_path
                            else:
                                calls[len(table)] = fn
                        except Unsupported as e:
                            row.update(status='unsupported', reason=str(e))
                        table.append(row)
                times = time_interleaved(calls, warmup, rounds, repeats, sync=sync)
                if ort_files:  # torch's spinning OpenMP threads would slow ORT down here
                    ort_times = time_onnx_in_subprocess(ort_files, ort_threads, warmup, rounds,
                                                        repeats)
                    times.update({int(k): v for k, v in ort_times.items()})
                ref = None
                for i, row in enumerate(table):
                    if i in times:
                        row.update(_stats(times[i]), times_ms=times[i])
                        if ref is None:
                            ref = row['median_ms']
                        row['ratio'] = row['median_ms'] / ref
                rows.extend(table)
    return rows


def run_benchmark(specs: Sequence[str], parts: Sequence[str] = ('model', ),
                  batches: Sequence[int] = (1, ), dtypes: Sequence[str] = ('fp32', ),
                  shape: Tuple[int, int] = (224, 224), device: Optional[str] = None,
                  channels_last: bool = False, threads: Optional[int] = None, warmup: int = 5,
                  rounds: int = 5, repeats: int = 10, top1: Optional[Dict[str, float]] = None,
                  log=None) -> List[dict]:
    """Build ``specs`` and time them (see :func:`time_variants` for the rows)."""
    device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    if str(device).startswith('cuda'):
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels
    variants = build_variants(specs, log=log)
    return time_variants(variants, parts, batches, dtypes, tuple(shape), device, channels_last,
                         threads, warmup, rounds, repeats, top1, log)


# ---------------------------------------------------------------------------- output


def percentile(values: List[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _count(n: Optional[int]) -> str:
    if n is None:
        return '–'
    return f'{n / 1e9:.2f}G' if n >= 1e9 else f'{n / 1e6:.2f}M' if n >= 1e7 else \
        f'{n / 1e6:.3f}M' if n >= 1e5 else f'{n / 1e3:.1f}K' if n >= 1e4 else str(n)


def _ms(t: float) -> str:
    return f'{t:.0f}' if t >= 100 else f'{t:.1f}' if t >= 1 else f'{t:.3f}'


def markdown_table(rows: Sequence[dict]) -> str:
    """The rows of one part and batch size as a markdown table."""
    lines = ['| model | form | dtype | batch | params | MACs | median ms | p10-p90 ms | '
             'ratio to first |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        form = r['form']
        if r.get('provider') and r['device'] != 'cpu':  # say where ORT ran on a GPU machine
            form += f' ({r["provider"].replace("ExecutionProvider", "")})'
        head = (f'| {r["model"]} | {form} | {r["dtype"]} | {r["batch"]} | '
                f'{_count(r["params"])} | {_count(r["macs"])} | ')
        if r['status'] != 'ok':
            reason = r['reason'].replace('|', '\\|')
            lines.append(head + f'unsupported: {reason} | – | – |')
        else:
            lines.append(head + f'{_ms(r["median_ms"])} | {_ms(r["p10_ms"])}-'
                         f'{_ms(r["p90_ms"])} | {r["ratio"]:.2f} |')
    return '\n'.join(lines)


def _groups(rows: Sequence[dict]) -> Dict[Tuple[str, int], List[dict]]:
    groups: Dict[Tuple[str, int], List[dict]] = {}
    for r in rows:
        groups.setdefault((r['part'], r['batch']), []).append(r)
    return groups


def report(rows: Sequence[dict], header: str = '') -> str:
    """Header, one ``<part> latency, batch N`` table per part and batch size, and the top-1
    numbers used for the plot with their sources."""
    out = [header] if header else []
    for (part, batch), group in _groups(rows).items():
        out.append(f'\n{part} latency, batch {batch}')
        out.append(markdown_table(group))
    known = {}
    for r in rows:
        if r['top1'] is not None:
            known.setdefault(r['model'], (r['top1'], r['top1_source']))
    if known:
        out.append('\nImageNet top-1 (%) used for the plot:')
        out.extend(f'- {k}: {v:g} ({src})' for k, (v, src) in known.items())
    return '\n'.join(out) + '\n'


def write_json(rows: Sequence[dict], path: str, meta: Optional[dict] = None) -> None:
    with open(path, 'w') as f:
        json.dump(dict(meta=meta or {}, rows=list(rows)), f, indent=1)


def plot(rows: Sequence[dict], path: str, title: str = '') -> None:
    """Median latency against params, MACs and ImageNet top-1 (three subplots, labelled
    points; one marker per batch size and dtype). The ``model`` part is plotted when timed,
    else the backbone; rows without a top-1 are left out of the third subplot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r['status'] == 'ok']
    part = 'model' if any(r['part'] == 'model' for r in ok) else 'backbone'
    ok = [r for r in ok if r['part'] == part]
    series = list(dict.fromkeys((r['batch'], r['dtype']) for r in
                                sorted(ok, key=lambda r: r['batch'])))
    markers = 'os^Dv<>pPX*h'
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    panels = [('params', 'parameters (M)', 1e-6), ('macs', 'MACs per image (M)', 1e-6),
              ('top1', 'ImageNet top-1 (%)', 1.0)]
    for ax, (key, xlabel, scale) in zip(axes, panels):
        drawn = 0
        for i, (batch, dtype) in enumerate(series):
            pts = [r for r in ok if r['batch'] == batch and r['dtype'] == dtype
                   and r[key] is not None]
            if not pts:
                continue
            xs = [r[key] * scale for r in pts]
            ys = [r['median_ms'] for r in pts]
            ax.scatter(xs, ys, marker=markers[i % len(markers)], label=f'batch {batch}, {dtype}')
            drawn += len(pts)
        labelled = {}  # each model form once, at its fastest point
        for r in ok:
            if r[key] is not None:
                name = f'{r["model"]} ({r["form"]})'
                if name not in labelled or r['median_ms'] < labelled[name][1]:
                    labelled[name] = (r[key] * scale, r['median_ms'])
        for name, xy in labelled.items():
            ax.annotate(name, xy, xytext=(3, 3), textcoords='offset points', fontsize=7)
        if not drawn:
            ax.text(0.5, 0.5, f'no model with a known {xlabel}', ha='center', va='center',
                    transform=ax.transAxes)
        ys = [r['median_ms'] for r in ok if r[key] is not None]
        if ys and min(ys) > 0 and max(ys) / min(ys) > 20:
            ax.set_yscale('log')
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f'{part} median latency (ms)')
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
    fig.suptitle(title or f'{part} latency')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
