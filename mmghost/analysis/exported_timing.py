"""Timing exported models (ONNX Runtime, OpenVINO, ncnn) in a process without torch.

In a process that has run torch, the runtimes are slowed down by torch's OpenMP threads,
which spin-wait after every parallel region (libgomp's default policy) and compete with the
runtime's own thread pool (GhostNetV3-1.0x ran 2.5x slower in ONNX Runtime there than with
``OMP_WAIT_POLICY=PASSIVE`` on two threads). :func:`time_exported_in_subprocess` therefore
times the files in a fresh Python process that never imports torch.

    python -m mmghost.analysis.exported_timing < '{"models": {...}, "num_threads": 2, ...}'
"""
import json
import os
import subprocess
import sys
from typing import Dict, List, Sequence, Tuple, Union

__all__ = ['time_exported_in_subprocess', 'run_torch_free']

#: ``path`` (ONNX Runtime, the file's static input shape) or ``(backend, path, input shape)``.
Model = Union[str, Tuple[str, str, Sequence[int]]]


def time_exported_in_subprocess(models: Dict[str, Model], num_threads: int, warmup: int = 5,
                                rounds: int = 5, repeats: int = 10) -> Dict[str, List[float]]:
    """Milliseconds per call of each exported model on a seeded random float32 input, timed
    in interleaved rounds by :func:`mmghost.analysis.timing.time_interleaved` in a fresh
    process that does not import torch."""
    request = dict(models={k: ['onnxruntime', v, None] if isinstance(v, str) else list(v)
                           for k, v in models.items()},
                   num_threads=num_threads, warmup=warmup, rounds=rounds, repeats=repeats)
    return run_torch_free('mmghost.analysis.exported_timing', request, 'timing')


def run_torch_free(module: str, request: dict, what: str):
    """Run ``python -m module`` with ``request`` as JSON on stdin (``OMP_NUM_THREADS`` set to
    its ``num_threads``) and return the JSON its last stdout line holds; ``what`` names the
    job in the error raised when the process fails."""
    proc = subprocess.run([sys.executable, '-m', module], input=json.dumps(request),
                          capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=str(request['num_threads'])))
    if proc.returncode != 0:
        raise RuntimeError(f'{what} the exported models failed:\n{proc.stderr[-2000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _main() -> None:
    import numpy as np

    from mmghost.analysis.timing import time_interleaved
    from mmghost.runtime.backends import create_backend, ort_session
    request = json.loads(sys.stdin.read())
    rng = np.random.default_rng(0)
    calls = {}
    for name, (backend, path, shape) in request['models'].items():
        if shape is None:  # the ONNX file's own static input shape
            shape = ort_session(path).get_inputs()[0].shape
        run = create_backend(backend, path, request['num_threads'])
        x = rng.standard_normal(shape).astype(np.float32)
        calls[name] = (lambda r, v: lambda: r(v))(run, x)
    assert 'torch' not in sys.modules, 'the timing process must not load torch'
    times = time_interleaved(calls, request['warmup'], request['rounds'], request['repeats'],
                             inference=None)
    print(json.dumps(times))


if __name__ == '__main__':
    _main()
