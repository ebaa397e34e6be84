"""Inference latency of several models side by side: the runner behind
``tools/analysis_tools/benchmark_latency.py``, importable by ``benchmarks/`` scripts.

A model is named by a *spec*: a config path or an ``mmdet::``/``mmpretrain::``/``mmghost::``
config name, or ``timm:NAME``, optionally followed by a form: ``@deploy`` (re-parameterized),
``@both`` (training and deploy form, two rows), ``@inference`` (deploy form with BNs folded,
NHWC: the fastest eager form), ``@ort`` (the deploy form exported to ONNX and run by ONNX
Runtime), ``@ort-int8``, ``@openvino``, ``@openvino-int8`` or ``@exported`` (those four).
:func:`run_benchmark` builds every spec's forms and times them, in every requested dtype and
batch size, in interleaved rounds
(:func:`mmghost.analysis.timing.time_interleaved`); it returns one row (a dict) per
model x form x dtype x batch x part, which :mod:`mmghost.analysis.reporting` presents. From a
script::

    from mmghost.analysis import report, run_benchmark
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
* Exported rows export the fp32 deploy form once per part and batch size (static shapes;
  a detector whole, with box decoding and NMS in the graph), run it with the torch thread
  count and all graph optimizations, and are ``unsupported`` in other dtypes. INT8 rows are
  quantized with :mod:`mmghost.deploy.quantize`'s default layer choice, calibrated on seeded
  random batches (the calibration sets the scales, not the speed).
* Params and MACs (conv + linear multiply-accumulates per image at the input shape,
  :func:`mmghost.analysis.complexity.count_complexity`) are counted once per model form and part
  on the fp32 CPU model, outside the timing.
"""
import copy
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

from mmghost.families import FAMILIES, fmt_width
from mmghost.models.layers import switch_to_deploy
from mmghost.models.utils import (PARTS, TensorModeWrapper, build_from_config, det_samples,
                                  is_detector, load_config, seeded_input)
from .complexity import count_complexity
from .exported_timing import time_exported_in_subprocess
from .timing import summarize, time_interleaved

__all__ = [
    'BenchmarkError', 'Unsupported', 'ModelSpec', 'Variant', 'DTYPES', 'FORMS', 'PEER_TOP1',
    'top1_table', 'parse_spec', 'model_label', 'build_model', 'to_deploy', 'prepare_model',
    'make_call', 'make_exported_call', 'EXPORTED', 'part_complexity', 'model_complexity',
    'lookup_top1', 'resolve_device', 'build_variants', 'time_variants', 'run_benchmark',
    'to_inference'
]

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
# form suffix -> the rows it gives
FORMS = {'': ('train', ), 'train': ('train', ), 'deploy': ('deploy', ),
         'both': ('train', 'deploy'), 'ort': ('ort', ), 'ort-int8': ('ort-int8', ),
         'openvino': ('openvino', ), 'openvino-int8': ('openvino-int8', ),
         'exported': ('ort', 'ort-int8', 'openvino', 'openvino-int8'),
         'inference': ('inference', )}


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
            'MODEL@both (training and deploy rows), MODEL@ort / @ort-int8 (deploy form in ONNX '
            'Runtime, fp32 / INT8), MODEL@openvino / @openvino-int8, MODEL@exported (the '
            'four exported forms) or MODEL@inference (eager deploy form, BN folded, NHWC)')
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


def _check_part(model: nn.Module, part: str) -> None:
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


def make_call(model: nn.Module, part: str, batch: int, shape: Tuple[int, int],
              dtype: torch.dtype = torch.float32, device='cpu',
              channels_last: bool = False) -> Callable[[], object]:
    """A no-argument function running one inference of ``part`` on a fixed random input.

    ``model`` must already be in ``dtype`` on ``device`` (:func:`prepare_model`). Detectors
    run ``predict`` (network + box decoding + NMS); other OpenMMLab models ``mode='tensor'``;
    timm models their forward (``forward_features`` for ``part='backbone'``).
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


# ---------------------------------------------------------------------------- exported forms

#: Exported forms: ``(runtime, precision)``.
EXPORTED = {'ort': ('onnxruntime', 'fp32'), 'ort-int8': ('onnxruntime', 'int8'),
            'openvino': ('openvino', 'fp32'), 'openvino-int8': ('openvino', 'int8')}


def make_exported_call(model: nn.Module, form: str, part: str, batch: int,
                       shape: Tuple[int, int], threads: int, workdir: str,
                       device='cpu') -> Tuple[Callable[[], object], dict]:
    """Export ``part`` of the (deploy-form) ``model`` at this batch and shape into ``workdir``
    (a detector's ``model`` part whole, with decoding and NMS; INT8 forms quantized on 8
    seeded random batches with the default layers kept in float) and return a function running
    it in the form's runtime, and ``dict(provider, path, backend, shape)`` for timing it in a
    torch-free process."""
    from mmghost.deploy import export_detector, export_onnx
    from mmghost.deploy.quantize import quantize_model
    from mmghost.deploy.runtime import create_backend
    runtime, precision = EXPORTED[form]
    path = tempfile.NamedTemporaryFile(suffix='.onnx', dir=workdir, delete=False).name
    try:
        # What tools/deployment/pytorch2onnx.py writes; timm models as they are called.
        openmmlab = hasattr(model, 'data_preprocessor') or hasattr(model, 'out_indices')
        if part == 'model' and is_detector(model):
            export_detector(model.cpu().float(), path, shape, dynamic_batch=False,
                            batch_size=batch)
        else:
            net = model.cpu().float() if openmmlab or part == 'model' else \
                TensorModeWrapper(model, part)
            export_onnx(net, path, shape, dynamic_batch=False, batch_size=batch,
                        backbone_only=openmmlab and part == 'backbone')
        if precision == 'int8':
            out = path[:-5] + ('-int8.xml' if runtime == 'openvino' else '-int8.onnx')
            calibration = [seeded_input(shape, batch, seed=i).numpy() for i in range(8)]
            quantize_model(path, out, calibration, backend=runtime)
            path = out
    except ImportError as e:
        raise Unsupported(f'{runtime} is not installed: {e}') from e
    except Exception as e:  # an op without an ONNX export, a quantizer failure
        raise Unsupported(f'export failed: {type(e).__name__}: {_first_line(e)}') from e
    try:
        run = create_backend(runtime, path, threads, device)
    except ImportError as e:
        raise Unsupported(f'{runtime} is not installed: {e}') from e
    except Exception as e:  # noqa: BLE001  (an op the runtime cannot load)
        raise Unsupported(f'{runtime}: {type(e).__name__}: {_first_line(e)}') from e
    x = seeded_input(shape, batch).numpy()
    provider = getattr(getattr(run, 'session', None), 'get_providers', lambda: [runtime])()[0]
    return (lambda: run(x)), dict(provider=provider, path=path, backend=runtime,
                                  shape=list(x.shape))


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


def _macs(model: nn.Module, part: str, shape: Tuple[int, int], modules: Sequence[str] = ()):
    """count_complexity of a part, or None (with a warning) when tracing fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return count_complexity(model, shape, modules=modules, part=part)
    except Exception as e:  # noqa: BLE001  (tracing can fail on exotic models)
        print(f'warning: MACs of {type(model).__name__} not counted: '
              f'{type(e).__name__}: {_first_line(e)}', file=sys.stderr)
        return None


def _part_params(model: nn.Module, part: str, shape: Tuple[int, int]) -> int:
    if part == 'model':
        return sum(p.numel() for p in model.parameters())
    if hasattr(model, 'backbone'):
        return sum(p.numel() for p in model.backbone.parameters())
    return _used_params(TensorModeWrapper(model, part), seeded_input(shape))  # timm


def part_complexity(model: nn.Module, part: str, shape: Tuple[int, int]) -> Dict[str, int]:
    """``params`` of the part and its conv + linear ``macs`` per image at ``shape`` (None
    where FlopAnalyzer fails)."""
    _check_part(model, part)
    r = _macs(model, part, shape)
    return dict(params=_part_params(model, part, shape), macs=r and r['macs'])


def model_complexity(model: nn.Module, parts: Sequence[str],
                     shape: Tuple[int, int]) -> Dict[str, Dict[str, int]]:
    """:func:`part_complexity` of each part; with both parts of a model that has a
    ``backbone``, one trace of the whole model gives both."""
    out = {}
    if 'model' in parts and 'backbone' in parts and hasattr(model, 'backbone'):
        r = _macs(model, 'model', shape, modules=('backbone', ))
        bb = r and r['module_macs']['backbone']
        if bb:
            out['model'] = dict(params=_part_params(model, 'model', shape), macs=r['macs'])
            out['backbone'] = dict(params=_part_params(model, 'backbone', shape), macs=bb)
    for part in parts:
        if part not in out:
            out[part] = part_complexity(model, part, shape)
    return out


#: ImageNet-1k top-1 (%) of the peers the benchmarks compare with, and where each is from.
#: The GhostNet families' numbers are stated by :mod:`mmghost.families`.
PEER_TOP1: Dict[str, Tuple[float, str]] = {
    'MobileNetV2 1.0x': (71.86, 'mmpretrain zoo, mobilenet-v2_8xb32_in1k'),
    'MobileNetV3-L': (74.04, 'mmpretrain zoo, mobilenet-v3-large_3rdparty_in1k: torchvision '
                      'weights; mmpretrain-trained 8xb128: 73.49'),
    'MobileOne-S0': (71.34, 'mmpretrain zoo, mobileone-s0_8xb32_in1k'),
    'ShuffleNetV2 1.0x': (69.55, 'mmpretrain zoo, shufflenet-v2-1x_16xb64_in1k'),
    'timm:mobilenetv3_large_100': (75.766, 'timm results-imagenet.csv, '
                                   'mobilenetv3_large_100.ra_in1k'),
    'timm:mobilenetv2_100': (72.976, 'timm results-imagenet.csv, mobilenetv2_100.ra_in1k'),
}


def top1_table() -> Dict[str, Tuple[float, str]]:
    """``{arch: (top1, source)}``: ``"<Family> <width>x"`` for the papers' numbers of every
    ImageNet family and width, ``"timm:NAME"`` for timm's own weights, and :data:`PEER_TOP1`."""
    table: Dict[str, Tuple[float, str]] = {}
    for fam in FAMILIES.values():
        if fam.dataset != 'ImageNet-1k':
            continue
        for width, value in fam.reported_top1.items():
            table[f'{fam.backbone} {fmt_width(width)}'] = value
        for r in fam.releases:
            if r.source == 'timm' and r.top1 is not None:
                table['timm:' + r.publisher_name.split('.')[0]] = (
                    r.top1, f'{r.reported_by}, {r.publisher_name}')
    table.update(PEER_TOP1)
    return table


def _arch_name(name: str) -> Optional[str]:
    """The :func:`top1_table` key of a spec's model (None for detectors and unknown models)."""
    if name.startswith('timm:'):
        arch = name[len('timm:'):].strip(':')
        if 'timm:' + arch in top1_table():
            return 'timm:' + arch
        for fam in FAMILIES.values():  # ghostnetv3_130 -> GhostNetV3 1.3x
            m = fam.timm_stem and re.fullmatch(rf'{fam.timm_stem}_(\d)(\d+)', arch)
            if m:
                return f'{fam.backbone} {fmt_width(float(m.group(1) + "." + m.group(2)))}'
        return None
    try:
        cfg = load_config(name)
        head, backbone = cfg.model.get('head'), cfg.model.get('backbone')
        if not head or not backbone or head.get('num_classes') != 1000:
            return None  # a 1000-class ImageNet classifier only
        t = str(backbone.get('type', '')).split('.')[-1]
        if t in [f.backbone for f in FAMILIES.values()] + ['MobileNetV2', 'ShuffleNetV2']:
            return f'{t} {fmt_width(backbone.get("widen_factor", 1.0))}'
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
    :func:`top1_table`; timm names without their own entry fall back to the paper's number."""
    overrides = overrides or {}
    for key in (label, arch):
        if key is not None and key in overrides:
            return overrides[key], 'given with --top1'
    table = top1_table()
    if arch in table:
        value, source = table[arch]
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
    form: str  # 'train', 'deploy', 'inference' or an exported form (EXPORTED)
    model: nn.Module
    arch: Optional[str] = None


_MATMUL = 2048


def _matmul_call():
    a, b = torch.randn(_MATMUL, _MATMUL), torch.randn(_MATMUL, _MATMUL)
    return lambda: torch.mm(a, b)


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
        if deploy is None and any(f not in ('train', 'inference') for f in ps.forms):
            deploy = to_deploy(copy.deepcopy(train), ps.name)
        built[ps.name] = (train, deploy)
        arch = _arch_name(ps.name)
        for form in ps.forms:
            model = train if form == 'train' else deploy
            if form == 'inference':
                model = to_inference(copy.deepcopy(train), ps.name)
            variants.append(Variant(label, ps.spec, form, model, arch))
    return variants


def _first_line(e: BaseException, limit: int = 300) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else '')[:limit]


def time_variants(variants: Sequence[Variant], parts: Sequence[str] = ('model', ),
                  batches: Sequence[int] = (1, ), dtypes: Sequence[str] = ('fp32', ),
                  shape: Tuple[int, int] = (224, 224), device: str = 'cpu',
                  channels_last: bool = False, threads: Optional[int] = None, warmup: int = 5,
                  rounds: int = 5, repeats: int = 10,
                  top1: Optional[Dict[str, float]] = None, log=None,
                  flop_floor: bool = False) -> List[dict]:
    """Time every variant x dtype, one interleaved table per part and batch size.

    PyTorch rows are interleaved in this process; exported rows on the CPU (ONNX Runtime,
    OpenVINO) are interleaved among themselves in a fresh process without torch
    (:mod:`mmghost.analysis.exported_timing`). ``flop_floor`` also times a 2048^2 fp32 matmul
    among the PyTorch rows and gives each row ``floor_ms`` (``2 x MACs`` at the matmul's rate)
    and ``floor_ratio`` (its median over that floor).

    Returns one dict per variant x dtype x batch x part with ``model, arch, spec, form, part,
    dtype, batch, device, channels_last, provider`` (ONNX Runtime's execution provider for
    exported rows, else None) ``, params, macs, status ('ok'/'unsupported'), reason,
    median_ms, p10_ms, p90_ms, ratio, top1, top1_source, times_ms``; ``ratio`` is the median
    over the median of the first ``ok`` row of the same part and batch.
    """
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
                table, calls, exported = [], {}, {}
                if flop_floor:
                    calls['matmul'] = _matmul_call()
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
                            if v.form in EXPORTED:
                                if dt != 'fp32':
                                    raise Unsupported('exported rows run the fp32 export (and '
                                                      'its INT8 form)')
                                fn, info = make_exported_call(v.model, v.form, part, batch,
                                                              shape, ort_threads, workdir,
                                                              device)
                                row['provider'] = info['provider']
                            else:
                                key = (id(v.model), dt)
                                nhwc = channels_last or v.form == 'inference'
                                if key not in prepared:
                                    prepared[key] = prepare_model(v.model, DTYPES[dt], device,
                                                                  nhwc)
                                fn = make_call(prepared[key], part, batch, shape, DTYPES[dt],
                                               device, nhwc)
                            try:  # one call: what this device/dtype cannot run is reported
                                with torch.inference_mode():
                                    fn()
                                if sync:
                                    sync()
                            except Exception as e:  # noqa: BLE001
                                raise Unsupported(f'{type(e).__name__}: {_first_line(e)}')
                            if v.form in EXPORTED and not str(device).startswith('cuda'):
                                exported[str(len(table))] = (info['backend'], info['path'],
                                                             info['shape'])
                            else:
                                calls[len(table)] = fn
                        except Unsupported as e:
                            row.update(status='unsupported', reason=str(e))
                        table.append(row)
                times = time_interleaved(calls, warmup, rounds, repeats, sync=sync)
                if exported:  # torch's spinning OpenMP threads would slow the runtimes here
                    exported_times = time_exported_in_subprocess(exported, ort_threads, warmup,
                                                                 rounds, repeats)
                    times.update({int(k): v for k, v in exported_times.items()})
                gflops = None
                if flop_floor:
                    gflops = 2 * _MATMUL ** 3 / (statistics.median(times.pop('matmul')) * 1e6)
                ref = None
                for i, row in enumerate(table):
                    if i in times:
                        row.update(summarize(times[i]), times_ms=times[i])
                        if ref is None:
                            ref = row['median_ms']
                        row['ratio'] = row['median_ms'] / ref
                        if gflops and row.get('macs'):
                            row['floor_ms'] = 2 * row['macs'] * batch / (gflops * 1e6)
                            row['floor_ratio'] = row['median_ms'] / row['floor_ms']
                    row['matmul_gflops'] = gflops
                rows.extend(table)
    return rows


def run_benchmark(specs: Sequence[str], parts: Sequence[str] = ('model', ),
                  batches: Sequence[int] = (1, ), dtypes: Sequence[str] = ('fp32', ),
                  shape: Tuple[int, int] = (224, 224), device: Optional[str] = None,
                  channels_last: bool = False, threads: Optional[int] = None, warmup: int = 5,
                  rounds: int = 5, repeats: int = 10, top1: Optional[Dict[str, float]] = None,
                  log=None, flop_floor: bool = False) -> List[dict]:
    """Build ``specs`` and time them (see :func:`time_variants` for the rows)."""
    device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    if str(device).startswith('cuda'):
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels
    variants = build_variants(specs, log=log)
    return time_variants(variants, parts, batches, dtypes, tuple(shape), device, channels_last,
                         threads, warmup, rounds, repeats, top1, log, flop_floor)
