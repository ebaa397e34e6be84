"""Side-by-side timing for benchmarks: the machine is noisy, so candidates alternate."""
import contextlib
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ['time_interleaved', 'percentile', 'summarize']


def time_interleaved(calls: Dict[str, Callable[[], object]], warmup: int = 2, rounds: int = 5,
                     repeats: int = 5, inference: Optional[bool] = True,
                     sync: Optional[Callable[[], None]] = None) -> Dict[str, List[float]]:
    """Milliseconds of every timed call per candidate.

    Each candidate is warmed up, then the candidates take turns: ``rounds`` times, each runs
    ``repeats`` timed calls, so drifts of the machine's speed hit all of them alike.
    ``inference=False`` keeps autograd on (for training steps); ``inference=None`` times
    calls that are not torch's (torch is then not imported, e.g. ONNX Runtime). ``sync``
    (for example ``torch.cuda.synchronize``) is called after the warm-up and right before
    and after every timed call, so asynchronous devices are timed to the end of their work.
    """
    times = {k: [] for k in calls}
    if inference is None:
        context = contextlib.nullcontext()
    else:
        import torch
        context = torch.inference_mode(inference)
    with context:
        for fn in calls.values():
            for _ in range(warmup):
                fn()
        if sync is not None:
            sync()
        for _ in range(rounds):
            for key, fn in calls.items():
                for _ in range(repeats):
                    if sync is not None:
                        sync()
                    t0 = time.perf_counter()
                    fn()
                    if sync is not None:
                        sync()
                    times[key].append((time.perf_counter() - t0) * 1e3)
    return times


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values``: the nearest rank, no interpolation."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summarize(times: Sequence[float]) -> Dict[str, float]:
    """``median_ms``, ``p10_ms`` and ``p90_ms`` of a candidate's timings."""
    return dict(median_ms=statistics.median(times), p10_ms=percentile(times, 0.1),
                p90_ms=percentile(times, 0.9))
