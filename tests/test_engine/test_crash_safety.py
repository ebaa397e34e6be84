"""Crash-safe training with tools/train.py: SIGKILL + --resume is bit-exact, an incomplete
checkpoint is never resumed from, checkpoints are written atomically, and a diverging run
stops with a clear message keeping its last good checkpoint."""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch

from mmghost.engine.crash_safety import (AtomicLocalBackend, checkpoint_problem,
                                         find_resumable_checkpoint, setup_crash_safe_training)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHAPES_CFG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_shapes-demo.py')


def _tiny_config(tmp_path, extra=''):
    """A 3-epoch GhostNetV3-Small run on 48 generated images that uses every random stream a
    resume must restore: random crops and flips in the main process (num_workers=0), head
    dropout, shuffling, and validation between epochs."""
    from mmghost.datasets.demo_shapes import make_shape_classification
    data = tmp_path / 'shapes'
    if not data.exists():
        make_shape_classification(str(data), num_train=48, num_val=16, size=32, seed=0)
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(widen_factor=0.5),
             head=dict(in_channels=80, mid_channels=[32], dropout_rate=0.5))
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={str(data)!r}))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(data)!r}))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, begin=0, end=3)]
train_cfg = dict(max_epochs=3, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=True)
{extra}
""")
    return str(cfg)


def _train(cfg, work_dir, *args, check=True):
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', str(work_dir), *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, REPO])))
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_sigkill_mid_epoch_then_resume_is_bit_exact(tmp_path):
    cfg = _tiny_config(tmp_path)
    _train(cfg, tmp_path / 'straight')

    killer = tmp_path / 'kill.py'
    killer.write_text(f"""
_base_ = {cfg!r}
custom_imports = dict(imports=['fault_hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='KillAtIterHook', epoch=3, iter=2)]
""")
    crashed = tmp_path / 'crashed'
    proc = _train(str(killer), crashed, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert osp.exists(crashed / 'epoch_2.pth') and not osp.exists(crashed / 'epoch_3.pth')

    proc = _train(cfg, crashed, '--resume')
    assert 'resumed epoch: 2' in proc.stdout + proc.stderr
    a, b = _load(tmp_path / 'straight' / 'epoch_3.pth'), _load(crashed / 'epoch_3.pth')
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), f'{key} differs after resume'
    for pa, pb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    # The logged loss curve (restored from the checkpoint, then continued) is the same too.
    losses = [sd['message_hub']['log_scalars']['train/loss'].data[0].tolist() for sd in (a, b)]
    assert losses[0] == losses[1]


def test_diverging_run_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = _tiny_config(tmp_path, extra="""
custom_imports = dict(imports=['fault_hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='PoisonAtIterHook', epoch=2, iter=2)]
""")
    work = tmp_path / 'nan'
    proc = _train(cfg, work, check=False)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'FloatingPointError: Training diverged at epoch 2, iteration 2' in err, err[-3000:]
    assert 'loss=nan' in err and f'{work / "epoch_1.pth"}' in err
    assert osp.exists(work / 'epoch_1.pth') and not osp.exists(work / 'epoch_2.pth')
    state = _load(work / 'epoch_1.pth')['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert find_resumable_checkpoint(str(work))[0] == str(work / 'epoch_1.pth')


def _save(path, value):
    torch.save({'meta': {'epoch': value}, 'state_dict': {'w': torch.full((64, 64), float(value))}},
               path)


def test_resume_falls_back_to_the_last_complete_checkpoint(tmp_path):
    for epoch in (1, 2, 3):
        _save(tmp_path / f'epoch_{epoch}.pth', epoch)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == (str(tmp_path / 'epoch_3.pth'), [])

    # A write interrupted half-way (mmengine's own backend writes in place).
    data = (tmp_path / 'epoch_3.pth').read_bytes()
    (tmp_path / 'epoch_3.pth').write_bytes(data[:len(data) // 2])
    path, skipped = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'epoch_2.pth')
    assert len(skipped) == 1 and 'epoch_3.pth' in skipped[0] and 'truncated' in skipped[0]

    # Same length, flipped bytes inside a tensor: the CRC check catches it.
    _save(tmp_path / 'epoch_3.pth', 3)
    data = bytearray((tmp_path / 'epoch_3.pth').read_bytes())
    mid = data.find(b'\x00\x00\x40\x40', len(data) // 2)  # a 3.0 inside the tensor
    assert mid > 0
    data[mid:mid + 4] = b'\x00\x00\x80\x40'
    (tmp_path / 'epoch_3.pth').write_bytes(bytes(data))
    assert 'CRC' in checkpoint_problem(str(tmp_path / 'epoch_3.pth'))
    assert find_resumable_checkpoint(str(tmp_path))[0] == str(tmp_path / 'epoch_2.pth')

    # last_checkpoint itself cut off while being written.
    (tmp_path / 'last_checkpoint').write_text('')
    assert find_resumable_checkpoint(str(tmp_path))[0] == str(tmp_path / 'epoch_2.pth')

    from mmengine.config import Config
    cfg = Config(dict(work_dir=str(tmp_path)))
    setup_crash_safe_training(cfg, resume='auto')
    assert cfg.resume and cfg.load_from == str(tmp_path / 'epoch_2.pth')
    # A file named explicitly is not replaced by another one: one clear error.
    with pytest.raises(ValueError, match=r'--resume .*epoch_3\.pth: corrupt member'):
        setup_crash_safe_training(Config(dict(work_dir=str(tmp_path))),
                                  resume=str(tmp_path / 'epoch_3.pth'))
    with pytest.raises(ValueError, match='file not found'):
        setup_crash_safe_training(Config(dict(work_dir=str(tmp_path))),
                                  resume=str(tmp_path / 'missing.pth'))
    # Nothing complete at all: start from scratch.
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'epoch_1.pth').write_bytes(b'PK\x03\x04')
    assert find_resumable_checkpoint(str(empty))[0] is None


def test_atomic_backend_never_leaves_a_partial_file(tmp_path, monkeypatch):
    backend = AtomicLocalBackend()
    target = tmp_path / 'epoch_1.pth'
    backend.put(b'complete', target)
    assert target.read_bytes() == b'complete'

    def crash(_fd):  # the process dies before the data reaches the disk
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half-written new checkpoint', target)
    assert target.read_bytes() == b'complete'  # the old file is intact
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # no temporary file left behind


def test_crash_safety_defaults():
    from mmengine.config import Config
    cfg = Config(dict(work_dir='w', default_hooks=dict(checkpoint=dict(type='CheckpointHook')),
                      custom_hooks=[dict(type='mmghost.ChannelsLastHook')]))
    setup_crash_safe_training(cfg)
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='mmghost_atomic_local')
    assert [h['type'] for h in cfg.custom_hooks] == [
        'mmghost.ChannelsLastHook', 'mmghost.RandomStateHook', 'mmghost.FiniteLossHook']
    # A remote out_dir or a user's own backend is left alone; hooks are not added twice.
    cfg = Config(dict(work_dir='w', custom_hooks=[dict(type='FiniteLossHook', interval=5)],
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                                         out_dir='s3://bucket/run'))))
    setup_crash_safe_training(cfg)
    assert 'backend_args' not in cfg.default_hooks.checkpoint
    assert [h['type'] for h in cfg.custom_hooks] == ['FiniteLossHook',
                                                     'mmghost.RandomStateHook']
