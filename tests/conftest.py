import os
import sys

import pytest
import torch

# Tests run on 2 cores; keep torch from oversubscribing them. tools/run_tests.sh runs two
# pytest-xdist workers: each worker, and the tools and trainings its tests start (through
# OMP_NUM_THREADS), then gets one thread.
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1') or 1)
THREADS = max(1, min(2, (os.cpu_count() or 1) // _WORKERS))
torch.set_num_threads(THREADS)
if _WORKERS > 1:
    os.environ['OMP_NUM_THREADS'] = str(THREADS)
sys.path.insert(0, os.path.dirname(__file__))
pytest_plugins = ['strict_skips']  # CI / MMGHOST_STRICT=1: a skip fails the run


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='module')
def demo_coco(tmp_path_factory):
    """A generated COCO set: 8 train and 4 val pictures of 96 px."""
    from mmghost.datasets.demo_coco import make_demo_coco
    root = tmp_path_factory.mktemp('demo_coco')
    make_demo_coco(str(root), num_train=8, num_val=4, size=96, seed=1)
    return root
