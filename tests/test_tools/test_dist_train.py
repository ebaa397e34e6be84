"""tools/dist_train.sh on a CPU-only machine: 2 processes (torchrun, gloo) train exactly like
1 process with the same global batch and seed.

The comparison is made exact by removing what legitimately differs between the two: per-
process BatchNorm statistics (GroupNorm, or SyncBN, which mmghost synchronizes over gloo on
CPU) and dropout masks (each rank draws its own), so the check isolates data sharding,
gradient averaging, BN synchronization and the optimizer steps.

Tolerances, on the whole weight vector (relative L2): GroupNorm 1e-5 (4e-8 measured). With
BatchNorm the forward pass itself sums in another order (per rank, then all-reduced), and BN
training amplifies float round-off: two 1-process runs with 1 and 2 threads already differ
by 2e-4 in the whole weight vector; SyncBN vs 1 process: 5e-5; plain per-process BN: 2.7e-2.
So SyncBN is checked within 1e-3.
"""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_CFG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_shapes-demo.py')

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason='torch.distributed is not available')


def _config(tmp_path, norm):
    from mmghost.datasets.demo_shapes import make_shape_classification
    data = str(tmp_path / 'shapes')
    make_shape_classification(data, num_train=64, num_val=32, size=32, seed=0)
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(widen_factor=0.5, norm_cfg={norm!r}),
             head=dict(in_channels=80, mid_channels=[32], dropout_rate=0.0))
_pipe = [dict(type='mmpretrain.LoadImageFromFile'), dict(type='mmpretrain.PackInputs')]
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={data!r}, pipeline=_pipe))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={data!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
optim_wrapper = dict(optimizer=dict(lr=0.01))
randomness = dict(seed=0, deterministic=True)
sync_bn = 'torch'  # only used by the distributed run
""")
    return str(cfg)


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _weight_difference(one: str, two: str) -> float:
    """Relative L2 distance of the final float state dicts of two work dirs."""
    a, b = (torch.load(osp.join(d, 'epoch_2.pth'), map_location='cpu',
                       weights_only=False)['state_dict'] for d in (one, two))
    assert a.keys() == b.keys()
    keys = [k for k in a if a[k].is_floating_point()]
    va, vb = (torch.cat([sd[k].flatten() for k in keys]) for sd in (a, b))
    return ((va - vb).norm() / va.norm()).item()


def _run(cmd, env=None):
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize('norm', [dict(type='GN', num_groups=1), dict(type='BN')],
                         ids=['GN', 'SyncBN'])
def test_two_cpu_processes_train_like_one(tmp_path, norm):
    cfg = _config(tmp_path, norm)
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    _run([sys.executable, 'tools/train.py', cfg, '--work-dir', one])
    # Same global batch: 2 processes x 8 images.
    _run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', two, '--cfg-options',
          'train_dataloader.batch_size=8'], env=dict(PYTHON=sys.executable, PORT=_free_port()))
    diff = _weight_difference(one, two)
    tol = 1e-5 if norm['type'] == 'GN' else 1e-3
    print(f'{norm["type"]}: relative weight difference {diff:.2e}')
    assert diff < tol, f'2-process weights differ from 1-process by {diff:.2e} (relative)'
    # Only rank 0 writes: one log directory, one set of checkpoints.
    assert len(glob.glob(osp.join(two, '2*', '*.log'))) == 1
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(two, '*.pth'))) == \
        ['epoch_1.pth', 'epoch_2.pth']

    # dist_test.sh: 2 processes evaluate the val split like 1 process does.
    ckpt = osp.join(two, 'epoch_2.pth')
    single = _run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir', one])
    double = _run(['bash', 'tools/dist_test.sh', cfg, ckpt, '2', '--work-dir', two],
                  env=dict(PYTHON=sys.executable, PORT=_free_port()))
    top1 = [re.findall(r'accuracy/top1: ([\d.]+)', p.stdout + p.stderr)[-1]
            for p in (single, double)]
    assert top1[0] == top1[1], top1


FAKE_SRUN = r'''#!/usr/bin/env bash
# Stands in for Slurm's srun on one machine: runs the command once per "node", in parallel.
nodes=1
while [[ $1 == -* ]]; do [[ $1 == --nodes=* ]] && nodes=${1#--nodes=}; shift; done
pids=()
for ((i = 0; i < nodes; i++)); do
  SLURM_NODEID=$i SLURM_NNODES=$nodes SLURM_JOB_NODELIST=node[0-1] "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
'''


def test_slurm_script_trains_on_two_nodes(tmp_path):
    """tools/slurm_train.sh: one torchrun per node, node 0 the rendezvous (Slurm faked by a
    srun that starts both "nodes" here), trains like one process."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'scontrol').write_text('#!/usr/bin/env bash\necho 127.0.0.1\n')
    for tool in ('srun', 'scontrol'):
        os.chmod(bin_dir / tool, 0o755)
    cfg = _config(tmp_path, dict(type='GN', num_groups=1))
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    _run([sys.executable, 'tools/train.py', cfg, '--work-dir', one])
    proc = _run(['bash', 'tools/slurm_train.sh', cfg, '--work-dir', two, '--cfg-options',
                 'train_dataloader.batch_size=8'],
                env=dict(PYTHON=sys.executable, PORT=_free_port(), NNODES='2',
                         NPROC_PER_NODE='1',
                         PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}'))
    assert 'GPU number: 2' in proc.stdout + proc.stderr  # mmengine's name for world size
    assert _weight_difference(one, two) < 1e-5
