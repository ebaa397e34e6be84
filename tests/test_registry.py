"""``type='mmghost.X'`` from other OpenMMLab scopes, with no custom_imports."""
import subprocess
import sys
import textwrap

import pytest


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing of mmghost imported beforehand)."""
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_build_from_mmdet_scope():
    pytest.importorskip('mmdet')
    out = run_fresh("""
        import sys
        import torch
        from mmengine.registry import init_default_scope
        from mmdet.registry import MODELS
        init_default_scope('mmdet')
        assert 'mmghost.models' not in sys.modules
        det = MODELS.build(dict(
            type='RetinaNet',
            data_preprocessor=dict(type='DetDataPreprocessor'),
            backbone=dict(type='mmghost.GhostNetV3', widen_factor=0.5, out_indices=(4, 6, 9)),
            neck=dict(type='FPN', in_channels=[20, 56, 480], out_channels=16, num_outs=3),
            bbox_head=dict(type='RetinaHead', num_classes=2, in_channels=16, feat_channels=16,
                stacked_convs=1,
                anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                    scales_per_octave=1, ratios=[1.0], strides=[8, 16, 32]),
                bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                loss_cls=dict(type='FocalLoss', use_sigmoid=True),
                loss_bbox=dict(type='L1Loss'))))
        assert type(det.backbone).__module__.startswith('mmghost.'), type(det.backbone)
        feats = det.eval().extract_feat(torch.randn(1, 3, 64, 64))
        print(type(det.backbone).__name__, [f.shape[1] for f in feats])
    """)
    assert 'GhostNetV3 [16, 16, 16]' in out


def test_build_from_mmpretrain_scope():
    pytest.importorskip('mmpretrain')
    out = run_fresh("""
        import sys
        import torch
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import MODELS
        init_default_scope('mmpretrain')
        assert 'mmghost.models' not in sys.modules
        model = MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='mmghost.RepGhostNet', widen_factor=0.5),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=5, in_channels=480)))
        print(type(model.backbone).__name__, tuple(model.eval()(torch.randn(2, 3, 32, 32)).shape))
    """)
    assert 'RepGhostNet (2, 5)' in out


@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain', 'mmengine', 'mmghost'])
def test_nested_modules_any_default_scope(scope):
    """Norm/activation layers inside our blocks resolve whatever the default scope is."""
    pytest.importorskip(scope)
    run_fresh(f"""
        import torch
        from mmengine.registry import MODELS, DefaultScope
        with DefaultScope.overwrite_default_scope('{scope}'):
            m = MODELS.build(dict(type='mmghost.GhostNetV2', widen_factor=0.5,
                                  norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='ReLU6')))
        assert type(m).__name__ == 'GhostNetV2'
        assert any(type(x).__name__ == 'SyncBatchNorm' for x in m.modules())
        assert any(type(x).__name__ == 'ReLU6' for x in m.modules())
    """)


def test_layers_are_registered():
    from mmengine.registry import MODELS
    for name in ('GhostNet', 'GhostNetV2', 'GhostNetV3', 'RepGhostNet', 'GhostNetV3Small',
                 'GhostModule', 'GhostModuleV2', 'GhostModuleV3', 'RepGhostModule',
                 'GhostBottleneck', 'SqueezeExcite'):
        assert MODELS.get(f'mmghost.{name}') is not None, name
