"""mmengine checkpoints load with torch's weights_only default; anything else stays refused."""
import os
import pickle

import numpy as np
import pytest
import torch

from mmghost.checkpoint import allow_mmengine_checkpoints


def _mmengine_like_checkpoint():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('mmghost_test_ckpt')
    for i in range(3):
        hub.update_scalar('train/loss', float(i))
    hub.update_info('iter', 3)
    return dict(meta=dict(epoch=1, iter=3, seed=np.int64(7)),
                state_dict=dict(w=torch.ones(2)),
                message_hub=hub.state_dict())


def test_message_hub_checkpoint_loads(tmp_path):
    allow_mmengine_checkpoints()
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), path)
    ckpt = torch.load(path)  # weights_only=True is torch's default
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert buf.mean() == pytest.approx(1.0) and buf.current() == 2.0
    assert ckpt['meta']['seed'] == 7


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo should-not-run',))


class _SneakyGetattr:
    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


@pytest.mark.parametrize('payload,match', [(_Evil(), 'system'),
                                           (_SneakyGetattr(), 'refusing getattr')])
def test_arbitrary_pickles_stay_refused(tmp_path, payload, match):
    allow_mmengine_checkpoints()
    path = tmp_path / 'evil.pth'
    torch.save(dict(x=payload), path)
    with pytest.raises(pickle.UnpicklingError, match=match):
        torch.load(path)


def _numpy_object_array():
    return np.array([os.system, 1], dtype=object)


def _structured_with_object_field():
    arr = np.zeros(1, dtype=[('w', 'f4'), ('f', 'O')])
    arr['f'][0] = os.system
    return arr


def _register_statistics_lookup():
    from mmengine.logging.history_buffer import HistoryBuffer

    class _Lookup:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, 'register_statistics'))

    return _Lookup()


@pytest.mark.parametrize('make,words', [
    (lambda: _Evil(), ['system', 'needs arbitrary unpickling']),
    (_register_statistics_lookup, ["refusing getattr", "'register_statistics'"]),
    (_numpy_object_array, ['system', 'needs arbitrary unpickling']),
    (_structured_with_object_field, ['system', 'needs arbitrary unpickling']),
])
def test_payloads_are_refused_with_a_clear_message_and_change_nothing(tmp_path, make, words):
    from mmghost.checkpoint import CheckpointError, load_checkpoint_safely
    allow_mmengine_checkpoints()
    path = str(tmp_path / 'payload.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(1)), x=make()), path)
    before = set(map(str, torch.serialization.get_safe_globals()))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_safely(path)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert set(map(str, torch.serialization.get_safe_globals())) == before


def test_a_checkpoint_that_rebinds_history_buffer_statistics_is_refused_and_undone(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer

    from mmghost.checkpoint import CheckpointError, load_checkpoint_safely
    methods = HistoryBuffer._statistics_methods
    HistoryBuffer([1.0, 3.0], [1, 1])  # the defaults are registered
    saved = dict(methods)
    path = str(tmp_path / 'rebind.pth')
    methods['mean'] = HistoryBuffer.max  # what a crafted checkpoint carries
    try:
        torch.save(dict(buf=HistoryBuffer([1.0, 3.0], [1, 1])), path)
    finally:
        methods.clear()
        methods.update(saved)
    with pytest.raises(CheckpointError, match=r"rebinds mmengine HistoryBuffer statistics "
                                              r"\['mean'\]"):
        load_checkpoint_safely(path)
    assert methods == saved and HistoryBuffer([1.0, 3.0], [1, 1]).mean() == 2.0
    # mmengine's own checkpoint (each statistic its own method) still loads.
    torch.save(_mmengine_like_checkpoint(), str(tmp_path / 'ok.pth'))
    assert load_checkpoint_safely(str(tmp_path / 'ok.pth'))['meta']['iter'] == 3
