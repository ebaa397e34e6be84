"""Configs: `mmghost::` inheritance works (every classification config trains a step in
test_classification_configs.py)."""
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


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
