"""Configs: every shipped config builds and trains a step; `mmghost::` inheritance works."""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', 'classification', '**', '*.py'),
                         recursive=True) if '_base_' not in p.split(os.sep))


def _build_model(cfg):
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('path', CLS_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_classification_config_train_step(path):
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    model = _build_model(cfg)
    model.train()
    size = 32
    num_classes = cfg.model.head.num_classes
    data = dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i % num_classes) for i in range(2)])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = model.train_step(data, optim_wrapper)
    assert torch.isfinite(sum(v for k, v in losses.items() if 'loss' in k))
    model.eval()
    out = model.val_step(data)
    assert len(out) == 2 and out[0].pred_score.shape == (num_classes, )


def test_mim_inheritance_from_user_config(tmp_path):
    """A user's config elsewhere inherits ours with the `mmghost::` prefix."""
    user_cfg = tmp_path / 'my_ghostnet.py'
    user_cfg.write_text(textwrap.dedent("""
        _base_ = 'mmghost::classification/_base_/models/ghostnetv3.py'
        model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=480,
                                                                 num_classes=7))
    """))
    code = textwrap.dedent(f"""
        import torch
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope
        init_default_scope('mmpretrain')
        cfg = Config.fromfile({str(user_cfg)!r})
        model = MODELS.build(cfg.model)
        print(type(model.backbone).__name__, model.backbone.widen_factor,
              tuple(model.eval()(torch.randn(1, 3, 32, 32)).shape))
    """)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'GhostNetV3 0.5 (1, 7)' in proc.stdout


def test_tools_are_in_the_package():
    from mmengine.utils import get_installed_path
    mim = osp.join(get_installed_path('mmghost'), '.mim')
    assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
    assert osp.isfile(osp.join(mim, 'tools', 'test.py'))
    assert osp.isdir(osp.join(mim, 'configs', 'classification'))
