"""The bad-input catalogue: one case each, one clear error (or the documented graceful path).

Every error must name the offending value and what was expected; nothing half-written, no
crash deep inside a worker. Each case builds the smallest thing that shows it.
"""
import copy
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import mmghost.models as M
from mmghost.engine.preflight import check_data

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_DET = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# ----------------------------------------------------------------- backbone arguments
@case
def unknown_backbone_arch(tmp_path):
    with pytest.raises(ValueError, match=r"unknown arch 'tiny' for GhostNetV3; choose one of "
                                         r"\['imagenet'\]"):
        M.GhostNetV3(arch='tiny')


@case
def widen_factor_not_positive(tmp_path):
    with pytest.raises(ValueError, match=r'widen_factor must be a positive .*got -0\.5'):
        M.GhostNet(widen_factor=-0.5)


@case
def widen_factor_not_a_number(tmp_path):
    with pytest.raises(ValueError, match=r"widen_factor must be a positive number, got '1\.0'"):
        M.RepGhostNet(widen_factor='1.0')


@case
def out_indices_out_of_range(tmp_path):
    with pytest.raises(ValueError, match=r'out_indices of GhostNetV2 must be ints in \[0, 9\] '
                                         r'.*got 10 in \(2, 10\)'):
        M.GhostNetV2(out_indices=(2, 10))


@case
def out_indices_unsorted(tmp_path):
    with pytest.raises(ValueError, match=r'strictly increasing stage indices, got \(6, 2\)'):
        M.GhostNetV3(out_indices=(6, 2))


@case
def frozen_stages_out_of_range(tmp_path):
    with pytest.raises(ValueError, match=r'frozen_stages must be an int in \[-1, 8\] for '
                                         r'GhostNetV3Small, got 9'):
        M.GhostNetV3Small(frozen_stages=9)


# ----------------------------------------------------------------- checkpoints
def _deploy_weights(cls=M.GhostNetV3, **kw):
    model = cls(widen_factor=0.5, **kw)
    model.switch_to_deploy()
    return model.state_dict()


@case
def deploy_weights_into_training_model(tmp_path):
    with pytest.raises(ValueError, match=r'deploy \(re-parameterized\) form of GhostNetV3, but '
                                         r'the model is in training form.*deploy=True'):
        M.GhostNetV3(widen_factor=0.5).load_state_dict(_deploy_weights(), strict=False)


@case
def training_weights_into_deploy_model(tmp_path):
    weights = M.RepGhostNet(widen_factor=0.5).state_dict()
    with pytest.raises(ValueError, match=r'training form of RepGhostNet, but the model is in '
                                         r'deploy form.*switch_to_deploy'):
        M.RepGhostNet(widen_factor=0.5, deploy=True).load_state_dict(weights, strict=False)


@case
def checkpoint_of_another_family(tmp_path):
    # mmengine loads load_from / init_cfg=Pretrained non-strictly: still refused.
    weights = M.GhostNet(widen_factor=1.0).state_dict()
    with pytest.raises(ValueError, match=r'the weights are GhostNet \(train form\), but the '
                                         r'model is GhostNetV2 1\.0x'):
        M.GhostNetV2(widen_factor=1.0).load_state_dict(weights, strict=False)


@case
def checkpoint_of_another_width(tmp_path):
    from mmengine.runner import load_state_dict
    weights = M.GhostNetV3(widen_factor=1.3).state_dict()
    with pytest.raises(ValueError, match=r'do not fit GhostNetV3 1\.0x.*they are GhostNetV3 '
                                         r'1\.3x \(final 1x1 conv: 1248 channels\)'):
        load_state_dict(M.GhostNetV3(widen_factor=1.0), weights, strict=False)


@case
def truncated_checkpoint(tmp_path):
    from mmghost.checkpoint import load_checkpoint_safely
    path = tmp_path / 'ghostnetv3.pth'
    torch.save({'state_dict': M.GhostNetV3Small().state_dict()}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(ValueError, match=r'ghostnetv3\.pth .*\(corrupt or truncated\?\)'):
        load_checkpoint_safely(str(path))
    from mmghost.engine.crash_safety import checkpoint_problem
    assert 'truncated' in checkpoint_problem(str(path))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@case
def checkpoint_needing_arbitrary_unpickling(tmp_path):
    from mmengine.runner import load_checkpoint

    from mmghost.checkpoint import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()  # what `import mmghost` installs: it must not let this in
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        torch.save({'state_dict': {}, 'meta': _Payload(str(marker))}, f, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError, match=r'system'):
        load_checkpoint(M.GhostNetV3Small(), str(path), map_location='cpu')
    assert not marker.exists(), 'the payload ran'


# ----------------------------------------------------------------- data
def _det_cfg(root):
    cfg = Config.fromfile(DEMO_DET)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(root) + '/'
    return cfg


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    from mmghost.datasets.demo_coco import make_demo_coco
    root = tmp_path_factory.mktemp('coco')
    make_demo_coco(str(root), num_train=6, num_val=3, size=64, seed=0)
    return root


@case
def missing_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train_dataloader\.dataset\.data_root '.*"
                                                r"/nowhere/' does not exist"):
        check_data(_det_cfg(tmp_path / 'nowhere'))


def _copy_coco(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


@case
def coco_annotation_not_json(tmp_path, coco_root):
    root = _copy_coco(coco_root, tmp_path / 'c')
    (root / 'annotations' / 'instances_train.json').write_text('{"images": [')
    with pytest.raises(ValueError, match=r'instances_train\.json.* is not valid JSON .*expected '
                                         r"a COCO annotation file with keys \['images', "):
        check_data(_det_cfg(root))


@case
def coco_annotation_lacking_keys(tmp_path, coco_root):
    root = _copy_coco(coco_root, tmp_path / 'c')
    path = root / 'annotations' / 'instances_val.json'
    data = json.loads(path.read_text())
    del data['annotations']
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"instances_val\.json' lacks the COCO key\(s\) "
                                         r"\['annotations'\]"):
        check_data(_det_cfg(root))


def test_large_coco_files_are_scanned_not_parsed(tmp_path, coco_root, monkeypatch):
    """Above FULL_PARSE_BYTES the preflight scans for the keys; the same errors come out."""
    import mmghost.engine.preflight as preflight
    monkeypatch.setattr(preflight, 'FULL_PARSE_BYTES', 10)
    root = _copy_coco(coco_root, tmp_path / 'c')
    check_data(_det_cfg(root))  # complete files pass
    path = root / 'annotations' / 'instances_val.json'
    data = json.loads(path.read_text())
    del data['categories']
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"lacks the COCO key\(s\) \['categories'\]"):
        check_data(_det_cfg(root))
    path.write_text('images,annotations,categories\n')
    with pytest.raises(ValueError, match=r"is not a JSON object \(starts with b'images"):
        check_data(_det_cfg(root))


def _det_dataset(root, split='train', **pipeline_kw):
    from mmengine.registry import DATASETS, DefaultScope
    cfg = _det_cfg(root)[f'{split}_dataloader'].dataset
    cfg = copy.deepcopy(cfg)
    cfg.pipeline[0].update(pipeline_kw)
    with DefaultScope.overwrite_default_scope('mmdet'):  # not left behind for other tests
        return DATASETS.build(cfg)


def _first_image(root, split='train'):
    data = json.loads((root / 'annotations' / f'instances_{split}.json').read_text())
    return root / split / data['images'][0]['file_name']


@case
def corrupt_image_file(tmp_path, coco_root):
    root = _copy_coco(coco_root, tmp_path / 'c')
    image = _first_image(root)
    image.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 50)
    dataset = _det_dataset(root)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_path'] == str(image))
    # mmcv/mmdet's convention for an undecodable image: an error that names it.
    with pytest.raises(AssertionError, match=rf'failed to load image: .*{image.name}'):
        dataset.prepare_data(index)


@case
def missing_image_file(tmp_path, coco_root):
    root = _copy_coco(coco_root, tmp_path / 'c')
    image = _first_image(root)
    image.unlink()
    dataset = _det_dataset(root)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_path'] == str(image))
    # Named by default ...
    with pytest.raises(FileNotFoundError, match=rf'{image.name}'):
        dataset.prepare_data(index)
    # ... or skipped with LoadImageFromFile(ignore_empty=True): mmdet serves another image.
    skipping = _det_dataset(root, ignore_empty=True)
    assert skipping.prepare_data(index) is None
    assert skipping[index]['data_samples'].img_path != str(image)


@case
def images_without_annotations(tmp_path, coco_root):
    root = _copy_coco(coco_root, tmp_path / 'c')
    for split in ('train', 'val'):
        path = root / 'annotations' / f'instances_{split}.json'
        data = json.loads(path.read_text())
        first = data['images'][0]['id']
        data['annotations'] = [a for a in data['annotations'] if a['image_id'] != first]
        path.write_text(json.dumps(data))
    # Training skips them (filter_empty_gt); validation keeps them; a detector's loss on a
    # batch holding one is finite.
    assert len(_det_dataset(root, 'train')) == 5
    val = _det_dataset(root, 'val')
    assert len(val) == 3
    from mmdet.registry import MODELS
    model = MODELS.build(_det_cfg(root).model)
    batch = model.data_preprocessor(dict(
        inputs=[val[i]['inputs'] for i in range(3)],
        data_samples=[val[i]['data_samples'] for i in range(3)]), training=True)
    assert len(batch['data_samples'][0].gt_instances) == 0
    losses = model.loss(batch['inputs'], batch['data_samples'])
    values = [v for vs in losses.values() for v in (vs if isinstance(vs, list) else [vs])]
    assert values and all(torch.isfinite(v).all() for v in values)


@case
def grayscale_and_rgba_images(tmp_path, coco_root):
    import cv2
    root = _copy_coco(coco_root, tmp_path / 'c')
    image = _first_image(root)
    color = cv2.imread(str(image))
    cv2.imwrite(str(image), cv2.cvtColor(color, cv2.COLOR_BGR2GRAY))
    second = root / 'train' / json.loads((root / 'annotations' / 'instances_train.json')
                                         .read_text())['images'][1]['file_name']
    cv2.imwrite(str(second), cv2.cvtColor(cv2.imread(str(second)), cv2.COLOR_BGR2BGRA))
    assert cv2.imread(str(image), cv2.IMREAD_UNCHANGED).ndim == 2
    assert cv2.imread(str(second), cv2.IMREAD_UNCHANGED).shape[2] == 4
    dataset = _det_dataset(root)
    for path in (image, second):  # loaded as 3-channel colour, like every other image
        index = next(i for i in range(len(dataset))
                     if dataset.get_data_info(i)['img_path'] == str(path))
        assert dataset[index]['inputs'].shape[0] == 3
    # A tensor that still has 1 channel gets a message naming its shape.
    with pytest.raises(ValueError, match=r'GhostNetV3 expects N x 3 x H x W images, got a '
                                         r'tensor of shape \(1, 1, 64, 64\)'):
        M.GhostNetV3(widen_factor=0.5)(torch.rand(1, 1, 64, 64))


@case
def input_smaller_than_total_stride(tmp_path):
    model = M.RepGhostNet(widen_factor=0.5, out_indices=(2, 4, 9)).eval()
    with pytest.raises(ValueError, match=r'RepGhostNet input is 24x40, smaller than the total '
                                         r'stride 32 of its last output stage \(9\)'):
        model(torch.rand(1, 3, 24, 40))


@case
def num_classes_mismatch_between_model_and_dataset(tmp_path, coco_root):
    cfg = _det_cfg(coco_root)
    cfg.model.bbox_head.num_classes = 80
    with pytest.raises(ValueError, match=r"model\.bbox_head\.num_classes=80 but train_dataloader"
                                         r"\.dataset has 3 classes \('circle', 'square', "
                                         r"'triangle'\); set num_classes=3"):
        check_data(cfg)


# ----------------------------------------------------------------- knowledge distillation
def _swap_into_r18_retinanet(**backbone):
    """A user config: mmdet's RetinaNet-R18 with GhostNetV3 swapped in, the neck left as is."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', 'retinanet_ghostv3.py'))
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    cfg.model.backbone.update(init_cfg=None, **backbone)
    return cfg


@case
def neck_channels_do_not_fit_the_backbone(tmp_path):
    from mmghost.engine.preflight import check_neck
    with pytest.raises(ValueError, match=r'model.neck.in_channels=\[64, 128, 256, 512\] do not fit '
                       r'model.backbone \(GhostNetV3 1.0x, out_indices=\(2, 4, 6, 9\)\), which '
                       r'outputs \[24, 40, 112, 960\] channels; set '
                       r'model.neck.in_channels=\[24, 40, 112, 960\]'):
        check_neck(_swap_into_r18_retinanet())


@case
def fewer_backbone_outputs_than_neck_inputs(tmp_path):
    from mmghost.engine.preflight import check_neck
    with pytest.raises(ValueError, match=r'model.neck \(FPN\) takes 4 inputs, in_channels=\[64, '
                       r'128, 256, 512\], but model.backbone \(GhostNetV3 1.0x\) returns 3 '
                       r'\(out_indices=\(4, 6, 9\), channels \[40, 112, 960\]\); choose 4 '
                       r'out_indices, or set model.neck.in_channels=\[40, 112, 960\]'):
        check_neck(_swap_into_r18_retinanet(out_indices=(4, 6, 9)))


def _light(config, **backbone):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', config))
    cfg.model.backbone.update(init_cfg=None, **backbone)
    return cfg


@case
def ssd_taps_at_other_strides_than_its_anchors(tmp_path):
    from mmghost.engine.preflight import check_neck
    cfg = _light('ssdlite_ghostv3_320.py', out_indices=(4, 9))  # strides 8 and 32
    cfg.model.neck.in_channels = [40, 960]  # the channels fit: only the strides are wrong
    with pytest.raises(ValueError, match=r'taps out_indices=\(4, 9\) at strides \[8, 32\], but '
                       r"the head's SSDAnchorGenerator places its first 2 levels at strides "
                       r'\[16, 32\].*Choose out_indices whose stage_strides are \[16, 32\]'):
        check_neck(cfg)


@case
def ssd_taps_of_other_channels_than_its_neck(tmp_path):
    from mmghost.engine.preflight import check_neck
    with pytest.raises(ValueError, match=r'model.neck.in_channels=\[112, 960\] do not fit '
                       r'model.backbone \(GhostNetV3 1.0x, out_indices=\(5, 9\)\), which '
                       r'outputs \[80, 960\] channels'):
        check_neck(_light('ssdlite_ghostv3_320.py', out_indices=(5, 9)))


@case
def pafpn_taps_at_other_strides_than_the_rtmdet_priors(tmp_path):
    from mmghost.engine.preflight import check_neck
    cfg = _light('rtmdet-tiny_ghostv3-ghostpafpn_320.py', out_indices=(2, 4, 6))
    cfg.model.neck.in_channels = [24, 40, 112]
    with pytest.raises(ValueError, match=r'at strides \[4, 8, 16\], but the head\'s '
                       r'MlvlPointGenerator places its first 3 levels at strides \[8, 16, 32\]'):
        check_neck(cfg)


def _kd_build(alpha=0.5, tau=1.0, teacher_classes=10):
    from mmengine.registry import MODELS, DefaultScope

    def net(num_classes, width):
        from mmghost.families import make_divisible
        return dict(type='mmpretrain.ImageClassifier',
                    backbone=dict(type='mmghost.GhostNetV3Small', widen_factor=width),
                    neck=dict(type='mmpretrain.GlobalAveragePooling'),
                    head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                              in_channels=make_divisible(160 * width, 4)))
    cfg = net(10, 1.0)
    cfg.update(type='mmghost.KDImageClassifier', alpha=alpha, tau=tau,
               teachers=[dict(config=net(teacher_classes, 1.3))])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


@case
def teacher_with_other_number_of_classes(tmp_path):
    from mmpretrain.structures import DataSample
    model = _kd_build(teacher_classes=100)
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    with pytest.raises(ValueError, match=r'teachers predict 100 classes, the student 10'):
        model.loss(torch.rand(2, 3, 32, 32), samples)


@case
def kd_alpha_outside_unit_interval(tmp_path):
    with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\], got 1\.5'):
        _kd_build(alpha=1.5)


@case
def kd_tau_not_positive(tmp_path):
    with pytest.raises(ValueError, match=r'tau must be positive, got 0'):
        _kd_build(tau=0)


def _listing(root):
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob('*') if p.is_file()}


#: What a refused input must never leave behind: atomic writes' temporaries, partial exports.
HALF_WRITTEN = ('.tmp', '.onnx', '.xml', '.bin', '.param', '.ncnn.bin')


@pytest.mark.parametrize('fn', CASES, ids=[f.__name__ for f in CASES])
def test_bad_input(fn, request, tmp_path):
    kwargs = {}
    if 'coco_root' in fn.__code__.co_varnames[:fn.__code__.co_argcount]:
        kwargs['coco_root'] = request.getfixturevalue('coco_root')
    before = _listing(tmp_path)
    fn(tmp_path, **kwargs)
    new = {k: v for k, v in _listing(tmp_path).items() if k not in before}
    # The case's own inputs stay; nothing the refused call wrote (a temporary, an export).
    left = [k for k in new if k.endswith(HALF_WRITTEN) or osp.basename(k).startswith('.')]
    assert not left, f'{fn.__name__} left {left}'
    assert all(before[k] == v for k, v in _listing(tmp_path).items() if k in before)


def test_the_catalogue_has_at_least_20_cases():
    assert len(CASES) >= 20, len(CASES)


def test_tools_stop_early_with_the_message(tmp_path):
    """tools/train.py and tools/test.py check data and checkpoint before building anything."""
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'PK\x03\x04 not a whole archive')
    env = dict(os.environ, PYTHONPATH=REPO)
    train = subprocess.run(
        [sys.executable, 'tools/train.py', DEMO_DET, '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/missing/'],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert train.returncode != 0
    assert "FileNotFoundError: train_dataloader.dataset.data_root" in train.stderr
    assert not osp.exists(tmp_path / 'w' / 'last_checkpoint')
    test = subprocess.run([sys.executable, 'tools/test.py', DEMO_DET, str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)
    assert test.returncode != 0
    assert f"ValueError: checkpoint '{bad}': not a complete torch.save archive" in test.stderr
