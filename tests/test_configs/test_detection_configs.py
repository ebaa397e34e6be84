"""Every detection config builds, trains one step and predicts on a small CPU input."""
import glob
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'detection', '*.py')))

pytest.importorskip('mmdet')


def build_detector(path):
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        return cfg, MODELS.build(cfg.model)


def test_configs_found():
    names = {osp.basename(p) for p in DET_CONFIGS}
    for required in ('retinanet_ghostv3.py', 'retinanet_ghostnet-1.1x.py',
                     'retinanet_ghostnetv2.py', 'retinanet_repghost-1.3x.py',
                     'retinanet_repghost-1.5x.py', 'faster-rcnn_ghostnet-1.1x.py',
                     'faster-rcnn_ghostv3.py', 'mask-rcnn_repghost-1.3x.py',
                     'mask-rcnn_ghostv3.py', 'yolov3_ghostv3_320.py', 'yolov3_ghostv3_416.py',
                     'yolov3_ghostnetv2_320.py', 'yolov3_ghostnetv2_416.py',
                     'yolov3_ghostnet-1.1x_320.py', 'yolov3_ghostnet-1.1x_416.py'):
        assert required in names, required


@pytest.mark.parametrize('path', DET_CONFIGS, ids=osp.basename)
def test_detection_config_train_step_and_predict(path):
    from mmdet.testing import demo_mm_inputs
    from mmengine.optim import OptimWrapper
    cfg, model = build_detector(path)
    assert type(model.backbone).__module__.startswith('mmghost.')
    with_mask = any(k in osp.basename(path) for k in ('mask', '-ins'))
    num_classes = 80
    # RTMDet-Ins concatenates the images' masks unpadded: one size in the batch.
    sizes = [[3, 128, 128], [3, 128 if '-ins' in path else 96, 128]]
    packed = demo_mm_inputs(2, sizes, num_items=[3, 2],
                            num_classes=num_classes, with_mask=with_mask)
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    losses = model.train_step(packed, optim)
    assert losses and all(torch.isfinite(v) for k, v in losses.items() if 'loss' in k)
    model.eval()
    with torch.no_grad():
        preds = model.val_step(packed)
    assert len(preds) == 2
    assert preds[0].pred_instances.bboxes.shape[-1] == 4
    if with_mask:
        assert 'masks' in preds[0].pred_instances


@pytest.mark.parametrize('path', [p for p in DET_CONFIGS if not p.endswith('_deploy.py')],
                         ids=osp.basename)
def test_backbone_defaults_to_its_published_imagenet_weights(path):
    """A training config's backbone loads the published ImageNet checkpoint of its own family
    and width by name (so `tools/train.py CONFIG` needs no extra step); a width without one is
    trained from scratch and the config says so."""
    from mmengine.config import Config

    from mmghost.families import family_of, get_model_entry
    text = open(path).read()
    backbone = Config.fromfile(path).model.backbone
    family = family_of(backbone.type.split('.')[-1])
    width = float(backbone.get('widen_factor', 1.0))
    published = [r for r in family.releases if r.width == width]
    init = backbone.get('init_cfg')
    if init is None:
        assert not published, f'{path}: {[r.name for r in published]} exist but are not used'
        assert 'trained from scratch' in text
        return
    assert init.type == 'Pretrained' and init.prefix == 'backbone.', init
    assert init.checkpoint.startswith('mmghost://'), init.checkpoint
    entry = get_model_entry(init.checkpoint[len('mmghost://'):])
    assert entry.family is family and entry.release.width == width and not entry.deploy
    # The official release where there is one (timm's otherwise).
    assert entry.release.source == 'official' or \
        not [r for r in published if r.source == 'official']


def test_mmdets_own_ssdlite_predicts():
    """mmdet's SSDLite-MobileNetV2 (the light detectors' baseline) predicts: mmdet 3.3.0 alone
    raises AttributeError ('SSDHead' object has no attribute 'loss_cls')."""
    from mmdet.testing import demo_mm_inputs
    import mmdet
    _, model = build_detector(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'ssd',
                                       'ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'))
    model.eval()
    with torch.no_grad():
        preds = model.val_step(demo_mm_inputs(1, [[3, 320, 320]], num_classes=80))
    assert preds[0].pred_instances.bboxes.shape[-1] == 4
