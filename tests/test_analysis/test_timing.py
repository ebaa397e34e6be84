"""time_interleaved: candidates alternate round by round; autograd off only for inference."""
import torch

from mmghost.analysis.timing import time_interleaved


def test_candidates_alternate_after_their_warm_up_and_every_call_is_timed():
    order = []
    calls = {k: (lambda k=k: order.append(k)) for k in ('a', 'b')}
    times = time_interleaved(calls, warmup=1, rounds=3, repeats=2)
    assert order == ['a', 'b'] + ['a', 'a', 'b', 'b'] * 3
    assert {k: len(v) for k, v in times.items()} == {'a': 6, 'b': 6}
    assert all(t >= 0 for v in times.values() for t in v)


def test_inference_flag_switches_autograd():
    seen = []
    time_interleaved({'x': lambda: seen.append(torch.is_inference_mode_enabled())},
                     warmup=0, rounds=1, repeats=1)
    x = torch.ones(1, requires_grad=True)
    time_interleaved({'x': lambda: seen.append((x * 2).requires_grad)}, warmup=0, rounds=1,
                     repeats=1, inference=False)
    assert seen == [True, True]


def test_sync_brackets_every_timed_call():
    events = []
    time_interleaved({'a': lambda: events.append('call')}, warmup=1, rounds=2, repeats=1,
                     sync=lambda: events.append('sync'))
    # warm-up, one sync after it, then sync / call / sync per timed call
    assert events == ['call', 'sync'] + ['sync', 'call', 'sync'] * 2
