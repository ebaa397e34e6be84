"""Inference latency of several models side by side: the runner behind
``tools/analysis_tools/benchmark_latency.py``, importable by ``benchmarks/`` scripts.

:func:`run_benchmark` takes model specs (:mod:`.spec`: ``MODEL[@FORM]``), builds every spec's
forms (:mod:`.build`), counts their params and MACs (:mod:`.complexity`) and times them, in
every requested dtype and batch size, in interleaved rounds (:mod:`.timing`; exported forms in
a torch-free process, :mod:`.exported_timing`; each row's call from :mod:`.calls`); it
returns one row (a dict) per model x form x dtype x batch x part, with the top-1 the zoos
state (:mod:`.top1`), which :mod:`.reporting` presents. From a script::

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
  quantized with :mod:`mmghost.quantize`'s default layer choice, calibrated on seeded
  random batches (the calibration sets the scales, not the speed).
* Params and MACs (conv + linear multiply-accumulates per image at the input shape) are
  counted once per model form and part on the fp32 CPU model, outside the timing.
"""
import copy
import statistics
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .build import (DTYPES, build_model, check_part, prepare_model, resolve_device, to_deploy,
                    to_inference)
from .calls import MATMUL, make_call, make_exported_call, matmul_call
from .complexity import model_complexity
from .exported_timing import time_exported_in_subprocess
from .spec import (EXPORTED, FORMS, BenchmarkError, ModelSpec, Unsupported, first_line,
                   model_label, parse_spec)
from .timing import summarize, time_interleaved
from .top1 import arch_name, lookup_top1

__all__ = [
    'BenchmarkError', 'Unsupported', 'ModelSpec', 'Variant', 'DTYPES', 'FORMS', 'EXPORTED',
    'parse_spec', 'model_label', 'build_model', 'to_deploy', 'to_inference', 'prepare_model',
    'make_call', 'make_exported_call', 'resolve_device', 'build_variants', 'time_variants',
    'run_benchmark'
]


@dataclass
class Variant:
    """One model form to time: ``model`` is the fp32 CPU model (deploy form for ``ort``)."""
    label: str
    spec: str
    form: str  # 'train', 'deploy', 'inference' or an exported form (EXPORTED)
    model: nn.Module
    arch: Optional[str] = None
    name: str = ''  # the spec's model part (config or timm:NAME)


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
        arch = arch_name(ps.name)
        for form in ps.forms:
            model = train if form == 'train' else deploy
            if form == 'inference':
                model = to_inference(copy.deepcopy(train), ps.name)
            variants.append(Variant(label, ps.spec, form, model, arch, ps.name))
    return variants


def _new_row(v: Variant, part: str, dt: str, batch: int, device: str, channels_last: bool,
             complexity: Dict[str, int], top1: Optional[Dict[str, float]]) -> dict:
    t1, t1_src = lookup_top1(v.label, v.name, v.arch, top1)
    return dict(model=v.label, arch=v.arch, spec=v.spec, form=v.form, part=part, dtype=dt,
                batch=batch, device=str(device), channels_last=channels_last, provider=None,
                **complexity, status='ok', reason='', median_ms=None, p10_ms=None,
                p90_ms=None, ratio=None, top1=t1, top1_source=t1_src, times_ms=[])


def _fill_times(table: List[dict], times: Dict[int, List[float]], batch: int,
                gflops: Optional[float]) -> None:
    """Medians and percentiles, the ratio to the first row that ran, the FLOP floor."""
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
        for part in parts:
            check_part(v.model, part)
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
                    calls['matmul'] = matmul_call()
                for v in variants:
                    for dt in dtypes:
                        row = _new_row(v, part, dt, batch, device, channels_last,
                                       complexity[id(v.model)][part], top1)
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
                                raise Unsupported(f'{type(e).__name__}: {first_line(e)}')
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
                    gflops = 2 * MATMUL ** 3 / (statistics.median(times.pop('matmul')) * 1e6)
                _fill_times(table, times, batch, gflops)
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
