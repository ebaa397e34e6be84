"""Checkpoints written by mmghost's tools load through OpenMMLab's own entry points: mmdet's
DetInferencer, init_detector/inference_detector, tools/test.py and tools/train.py --resume;
mmpretrain's ImageClassificationInferencer, get_model, tools/test.py,
tools/train.py --resume and reparameterize_model.py (inference_model by model name:
tests/test_checkpoint/test_hub.py). Each
runs in a fresh interpreter that only imports mmghost when the config names its types (the
installed import hook allowlists mmengine's checkpoint types for torch's weights_only)."""
import os.path as osp
import subprocess
import sys

import pytest
from helpers import write_tiny_classifier_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_DET = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')

pytest.importorskip('mmdet')


def package_tool(package, *parts):
    import importlib.util
    root = osp.dirname(importlib.util.find_spec(package).origin)
    return osp.join(root, '.mim', 'tools', *parts)


def run(args, cwd, check=True):
    proc = subprocess.run([sys.executable] + [str(a) for a in args], cwd=str(cwd),
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='module')
def detector(tmp_path_factory):
    """The demo detector trained 1 epoch on 4 images by mmghost's tools/train.py."""
    from mmghost.datasets.demo_coco import make_demo_coco
    tmp = tmp_path_factory.mktemp('det')
    make_demo_coco(str(tmp / 'coco'), num_train=4, num_val=2, size=96, seed=1)
    root = f'{tmp}/coco/'
    cfg = tmp / 'det.py'
    cfg.write_text(f"""
_base_ = {DEMO_DET!r}
model = dict(backbone=dict(widen_factor=0.5), neck=dict(in_channels=[12, 20, 56, 480]),
             test_cfg=dict(score_thr=0.0))
_loader = dict(batch_size=2, num_workers=0, persistent_workers=False,
               dataset=dict(data_root={root!r}))
train_dataloader = _loader
val_dataloader = dict(_loader, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root + 'annotations/instances_val.json'!r})
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
""")
    run([osp.join(REPO, 'tools', 'train.py'), cfg, '--work-dir', tmp / 'work'], tmp)
    return dict(cfg=cfg, ckpt=tmp / 'work' / 'epoch_1.pth', image=tmp / 'coco' / 'val' /
                '00000.png', tmp=tmp)


def test_mmdet_inference_apis_load_an_mmghost_checkpoint(detector):
    code = f"""
from mmdet.apis import DetInferencer, inference_detector, init_detector
inferencer = DetInferencer(model={str(detector['cfg'])!r}, weights={str(detector['ckpt'])!r},
                           device='cpu', show_progress=False)
out = inferencer({str(detector['image'])!r}, out_dir='drawn')
print('DetInferencer', len(out['predictions'][0]['bboxes']))
import os
print('drawn', os.listdir('drawn/vis'))
model = init_detector({str(detector['cfg'])!r}, {str(detector['ckpt'])!r}, device='cpu')
sample = inference_detector(model, {str(detector['image'])!r})
print('inference_detector', len(sample.pred_instances.bboxes), type(model.backbone).__name__)
"""
    out = run(['-c', code], detector['tmp'])
    assert 'DetInferencer 100' in out and 'inference_detector 100 GhostNetV3' in out, out[-2000:]
    assert "drawn ['00000.png']" in out, out[-2000:]  # the picture with its boxes


def test_mmdets_own_test_and_resume(detector):
    out = run([package_tool('mmdet', 'test.py'), detector['cfg'], detector['ckpt'],
               '--work-dir', detector['tmp'] / 'mmdet_test'], detector['tmp'])
    assert 'coco/bbox_mAP:' in out, out[-2000:]
    out = run([package_tool('mmdet', 'train.py'), detector['cfg'], '--work-dir',
               detector['tmp'] / 'work', '--resume', '--cfg-options', 'train_cfg.max_epochs=2'],
              detector['tmp'])
    assert 'resumed epoch: 1' in out, out[-3000:]


def test_mmpretrain_entry_points_on_an_mmghost_classifier(tmp_path):
    cfg = write_tiny_classifier_config(tmp_path)
    run([osp.join(REPO, 'tools', 'train.py'), cfg, '--work-dir', tmp_path / 'work'], tmp_path)
    ckpt = tmp_path / 'work' / 'epoch_1.pth'
    out = run([package_tool('mmpretrain', 'test.py'), cfg, ckpt, '--work-dir',
               tmp_path / 'test'], tmp_path)
    assert 'accuracy/top1:' in out, out[-2000:]
    out = run([package_tool('mmpretrain', 'train.py'), cfg, '--work-dir', tmp_path / 'work',
               '--resume', '--cfg-options', 'train_cfg.max_epochs=2'], tmp_path)
    assert 'resumed epoch: 1' in out, out[-3000:]
    out = run([package_tool('mmpretrain', 'model_converters', 'reparameterize_model.py'), cfg,
               ckpt, tmp_path / 'deploy.pth'], tmp_path)
    image = sorted((tmp_path / 'shapes' / 'val').glob('*/*.png'))[0]
    code = f"""
import torch
from mmpretrain import ImageClassificationInferencer
result = ImageClassificationInferencer({str(cfg)!r}, pretrained={str(ckpt)!r},
                                       device='cpu')({str(image)!r})[0]
print('class', result['pred_class'])
from mmpretrain import get_model
# A model built from a config file has no model-index entry, so mmpretrain's inference_model
# cannot pick its task (NotImplementedError for any mmpretrain model); the inferencer takes it.
model = get_model({str(cfg)!r}, pretrained={str(ckpt)!r}, device='cpu')
again = ImageClassificationInferencer(model, device='cpu')({str(image)!r})[0]
print('get_model', again['pred_class'] == result['pred_class'],
      abs(again['pred_score'] - result['pred_score']) < 1e-6)
sd = torch.load({str(tmp_path / 'deploy.pth')!r}, weights_only=True)['state_dict']
print('fused', any(k.endswith('primary_conv.0.bias') for k in sd))
"""
    out = run(['-c', code], tmp_path)
    assert 'class ' in out and 'get_model True True' in out and 'fused True' in out, \
        out[-2000:]
