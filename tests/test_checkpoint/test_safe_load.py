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
