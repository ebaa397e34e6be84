"""Where an exported model's time goes: milliseconds per run by op type, from ONNX Runtime's
profiler and OpenVINO's performance counters, in a process that does not import torch (as
:mod:`mmghost.analysis.exported_timing` times them, for the same reason).

    python -m mmghost.analysis.op_profile < '{"models": {...}, "num_threads": 2, ...}'

ONNX Runtime reports the ops of its optimized graph (``Conv`` with fused activations,
``ReorderInput``/``ReorderOutput`` for its blocked NCHWc layout, ...); OpenVINO the nodes of
its compiled graph by their type (``Convolution``, ``Reorder``, ``Concatenation``,
``Interpolate``, ``Eltwise``, ``Subgraph`` for fused element-wise chains, ...). The sum of the
op times is below the wall time of a run, which also holds the runtime's own overhead; both
are returned.
"""
import json
import os
import sys
import time
from typing import Dict, List, Sequence, Tuple

__all__ = ['profile_onnxruntime', 'profile_openvino', 'profile_ops_in_subprocess',
           'op_profile_table', 'WALL']

#: The key of a profile's wall time per run (the ops' keys are the runtimes' op types).
WALL = '(wall time per run)'


def _input(shape: Sequence[int]):
    import numpy as np
    return np.random.default_rng(0).standard_normal(list(shape)).astype(np.float32)


def profile_onnxruntime(path: str, shape: Sequence[int], num_threads: int, runs: int = 50,
                        warmup: int = 5) -> Dict[str, float]:
    """Milliseconds per run of each op type of ``path`` in ONNX Runtime (its profiler), and
    the wall time per run under :data:`WALL`; the ``warmup`` first runs are not counted."""
    import onnxruntime as ort
    x = _input(shape)
    opts = ort.SessionOptions()  # as mmghost.runtime.backends.ort_session, plus the profiler
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = int(num_threads)
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'mmghost_ort')
    session = ort.InferenceSession(path, sess_options=opts, providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    for _ in range(warmup):
        session.run(None, {name: x})
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, {name: x})
    wall = (time.perf_counter() - start) * 1e3 / runs
    trace = session.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    run_starts = sorted(e['ts'] for e in events if e.get('name') == 'model_run')
    counted_from = run_starts[warmup] if len(run_starts) > warmup else 0
    out: Dict[str, float] = {}
    for e in events:
        if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time') and \
                e['ts'] >= counted_from:
            op = e['args']['op_name']
            out[op] = out.get(op, 0.0) + e['dur'] / 1e3 / runs
    out[WALL] = wall
    return out


def profile_openvino(path: str, shape: Sequence[int], num_threads: int, runs: int = 50,
                     warmup: int = 5) -> Dict[str, float]:
    """Milliseconds per run of each node type of ``path`` compiled by OpenVINO for the CPU
    (f32, latency hint; its performance counters), and the wall time per run under
    :data:`WALL`."""
    from mmghost.runtime.backends import openvino_core
    core = openvino_core()
    config = {'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': 'f32',
              'INFERENCE_NUM_THREADS': int(num_threads), 'PERF_COUNT': True}
    compiled = core.compile_model(core.read_model(path), 'CPU', config)
    request = compiled.create_infer_request()
    x = _input(shape)
    for _ in range(warmup):
        request.infer({0: x})
    out: Dict[str, float] = {}
    wall = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        request.infer({0: x})
        wall += time.perf_counter() - start
        for info in request.profiling_info:
            if info.status.name == 'EXECUTED':
                ms = info.real_time.total_seconds() * 1e3 / runs
                out[info.node_type] = out.get(info.node_type, 0.0) + ms
    out[WALL] = wall * 1e3 / runs
    return out


_PROFILERS = {'onnxruntime': profile_onnxruntime, 'openvino': profile_openvino}


def profile_ops_in_subprocess(models: Dict[str, Tuple[str, str, Sequence[int]]],
                              num_threads: int, runs: int = 50,
                              warmup: int = 5) -> Dict[str, Dict[str, float]]:
    """``{name: {op type: ms per run}}`` of each ``(backend, path, input shape)``, profiled
    one after the other in a fresh process without torch."""
    unknown = {b for b, _, _ in models.values()} - set(_PROFILERS)
    if unknown:
        raise ValueError(f'no op profiler for {sorted(unknown)}; choose from '
                         f'{sorted(_PROFILERS)}')
    request = dict(models={k: list(v) for k, v in models.items()}, num_threads=num_threads,
                   runs=runs, warmup=warmup)
    from .exported_timing import run_torch_free
    return run_torch_free('mmghost.analysis.op_profile', request, 'profiling')


def op_profile_table(profiles: Dict[str, Dict[str, float]], min_ms: float = 0.05) -> str:
    """A markdown table: one row per op type (largest total first; types under ``min_ms`` in
    every column are summed into "other"), one column per profile, then the sum of the ops
    and the wall time."""
    names = list(profiles)
    ops: Dict[str, float] = {}
    for p in profiles.values():
        for op, ms in p.items():
            if op != WALL:
                ops[op] = ops.get(op, 0.0) + ms
    shown = [op for op in sorted(ops, key=ops.get, reverse=True)
             if any(profiles[n].get(op, 0.0) >= min_ms for n in names)]
    rest = [op for op in ops if op not in shown]
    lines = ['| op type | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']

    def row(label: str, values: List[float]) -> str:
        return f'| {label} | ' + ' | '.join(f'{v:.2f}' if v else '–' for v in values) + ' |'

    for op in shown:
        lines.append(row(op, [profiles[n].get(op, 0.0) for n in names]))
    if rest:
        lines.append(row('other', [sum(profiles[n].get(op, 0.0) for op in rest)
                                   for n in names]))
    lines.append(row('**sum of ops**', [sum(v for k, v in profiles[n].items() if k != WALL)
                                        for n in names]))
    lines.append(row('**wall time per run**', [profiles[n].get(WALL, 0.0) for n in names]))
    return '\n'.join(lines)


def _main() -> None:
    request = json.loads(sys.stdin.read())
    out = {name: _PROFILERS[backend](path, shape, request['num_threads'], request['runs'],
                                     request['warmup'])
           for name, (backend, path, shape) in request['models'].items()}
    assert 'torch' not in sys.modules, 'the profiling process must not load torch'
    print(json.dumps(out))


if __name__ == '__main__':
    _main()
