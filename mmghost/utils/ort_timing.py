"""ONNX Runtime sessions and their timing, without torch.

In a process that has run torch, ONNX Runtime is slowed down by torch's OpenMP threads, which
spin-wait after every parallel region (libgomp's default policy) and compete with ORT's own
thread pool: GhostNetV3-1.0x's ORT latency was 16.4 ms there against 6.5 ms with
``OMP_WAIT_POLICY=PASSIVE`` (2 threads, this 2-core machine). :func:`time_onnx_in_subprocess`
therefore times ONNX files in a fresh Python process that never imports torch.

    python -m mmghost.utils.ort_timing < '{"paths": {...}, "num_threads": 2, ...}'
"""
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

__all__ = ['ort_session', 'time_onnx_in_subprocess']


def ort_session(path: str, providers=None, num_threads: Optional[int] = None):
    """An ONNX Runtime session with all graph optimizations (NCHWc layout included),
    ``num_threads`` intra-op threads (None: ONNX Runtime's default) and one inter-op thread."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads:
        opts.intra_op_num_threads = int(num_threads)
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts,
                                providers=list(providers or ['CPUExecutionProvider']))


def time_onnx_in_subprocess(paths: Dict[str, str], num_threads: int, warmup: int = 5,
                            rounds: int = 5, repeats: int = 10) -> Dict[str, List[float]]:
    """Milliseconds per call of each ONNX file (static input shapes, random float32 input),
    timed in interleaved rounds by :func:`mmghost.utils.timing.time_interleaved` in a fresh
    process that does not import torch."""
    request = dict(paths=paths, num_threads=num_threads, warmup=warmup, rounds=rounds,
                   repeats=repeats)
    proc = subprocess.run([sys.executable, '-m', 'mmghost.utils.ort_timing'],
                          input=json.dumps(request), capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=str(num_threads)))
    if proc.returncode != 0:
        raise RuntimeError(f'ONNX Runtime timing failed:\n{proc.stderr[-2000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _main() -> None:
    import numpy as np

    from mmghost.utils.timing import time_interleaved
    request = json.loads(sys.stdin.read())
    rng = np.random.default_rng(0)
    calls = {}
    for name, path in request['paths'].items():
        sess = ort_session(path, num_threads=request['num_threads'])
        feed = {i.name: rng.standard_normal(i.shape).astype(np.float32)
                for i in sess.get_inputs()}
        calls[name] = (lambda s, f: lambda: s.run(None, f))(sess, feed)
    assert 'torch' not in sys.modules, 'the ORT timing process must not load torch'
    times = time_interleaved(calls, request['warmup'], request['rounds'], request['repeats'],
                             inference=None)
    print(json.dumps(times))


if __name__ == '__main__':
    _main()
