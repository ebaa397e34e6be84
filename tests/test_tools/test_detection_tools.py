"""tools/train.py -> checkpoint -> tools/test.py (COCO mAP), resume, backbone swaps."""
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')

pytest.importorskip('mmdet')


def run_tool(args, cwd):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout + proc.stderr


def tiny_options(data_root, max_epochs):
    root = str(data_root) + '/'
    return [
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val.json',
        f'test_evaluator.ann_file={root}annotations/instances_val.json',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', f'train_cfg.max_epochs={max_epochs}',
        f'train_cfg.val_interval={max_epochs}', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1',
        'randomness.seed=0'
    ]


def test_train_checkpoint_test_map_and_resume(demo_coco, tmp_path):
    work = tmp_path / 'work'
    # 1 epoch, then resume to 2: epoch, iteration, optimizer and scheduler continue.
    run_tool([osp.join(REPO, 'tools', 'train.py'), DEMO_CFG, '--work-dir', str(work)] +
             tiny_options(demo_coco, 1), cwd=str(tmp_path))
    from mmghost.checkpoint import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    first = torch.load(work / 'epoch_1.pth')  # torch's weights_only=True default
    assert first['meta']['epoch'] == 1 and first['meta']['iter'] == 2
    out = run_tool([osp.join(REPO, 'tools', 'train.py'), DEMO_CFG, '--work-dir', str(work),
                    '--resume'] + tiny_options(demo_coco, 2), cwd=str(tmp_path))
    assert re.search(r'resumed epoch: 1, iter: 2', out), out[-3000:]
    assert re.search(r'Epoch\(train\) +\[2\]', out) and not re.search(r'Epoch\(train\) +\[1\]', out)
    second = torch.load(work / 'epoch_2.pth')
    assert second['meta']['epoch'] == 2 and second['meta']['iter'] == 4
    # AdamW's per-parameter step count continued from the first run's 2 to 4.
    state = second['optimizer']['state']
    assert state and all(int(s['step']) == 4 for s in state.values())
    assert second['param_schedulers'][-1]['last_step'] == \
        first['param_schedulers'][-1]['last_step'] + 1
    # The checkpoint evaluates with COCO metrics and writes prediction pictures.
    out = run_tool([osp.join(REPO, 'tools', 'test.py'), DEMO_CFG, str(work / 'epoch_2.pth'),
                    '--work-dir', str(tmp_path / 'test'), '--show-dir', 'vis',
                    '--out', str(tmp_path / 'preds.pkl')] + tiny_options(demo_coco, 2) +
                   ['model.test_cfg.score_thr=0.0'],  # an untrained net scores low
                   cwd=str(tmp_path))
    assert re.search(r'coco/bbox_mAP: -?[0-9.]+', out), out[-3000:]
    pictures = list((tmp_path / 'test').glob('*/vis/*.png'))
    assert len(pictures) == 4
    assert (tmp_path / 'preds.pkl').stat().st_size > 0


def test_backbone_swap_into_unmodified_mmdet_config(tmp_path):
    """The README's recipe: inherit mmdet's Faster R-CNN and swap in our backbone."""
    cfg = tmp_path / 'faster_rcnn_ghost.py'
    cfg.write_text("""
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(_delete_=True, type='mmghost.GhostNetV3', widen_factor=1.0,
                  out_indices=(2, 4, 6, 9)),
    neck=dict(in_channels=[24, 40, 112, 960]))
""")
    code = f"""
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.optim import OptimWrapper
from mmdet.testing import demo_mm_inputs
init_default_scope('mmdet')
cfg = Config.fromfile({str(cfg)!r})
model = MODELS.build(cfg.model)
packed = demo_mm_inputs(2, [[3, 128, 128], [3, 128, 96]], num_classes=80)
losses = model.train_step(packed, OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3)))
print(type(model.backbone).__name__, sorted(k for k in losses if k.startswith('loss_')))
"""
    out = run_tool(['-c', code], cwd=str(tmp_path))
    assert "GhostNetV3 ['loss_bbox', 'loss_cls', 'loss_rpn_bbox', 'loss_rpn_cls']" in out
