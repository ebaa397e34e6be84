"""mmghost.datasets.demo_coco: the generated COCO set, in pycocotools and mmdet."""
import json
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

pytest.importorskip('mmdet')


def run_module(args):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout + proc.stderr


def test_demo_coco_loads_in_pycocotools_and_mmdet(demo_coco):
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope
    from pycocotools.coco import COCO
    ann = osp.join(demo_coco, 'annotations', 'instances_train.json')
    coco = COCO(ann)
    assert len(coco.getImgIds()) == 8 and len(coco.getAnnIds()) >= 8
    for a in coco.loadAnns(coco.getAnnIds()):
        assert a['segmentation'] and a['area'] > 0 and a['bbox'][2] > 0
        assert coco.annToMask(a).sum() > 0
    with DefaultScope.overwrite_default_scope('mmdet'):
        sample = _first_sample(CocoDataset, demo_coco)
    assert sample['inputs'].shape == (3, 96, 96)
    assert len(sample['data_samples'].gt_instances) > 0
    assert sample['data_samples'].gt_instances.masks.masks.shape[-2:] == (96, 96)


def _first_sample(CocoDataset, demo_coco):
    ds = CocoDataset(data_root=str(demo_coco) + '/', ann_file='annotations/instances_train.json',
                     data_prefix=dict(img='train/'),
                     metainfo=dict(classes=('circle', 'square', 'triangle')),
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                               dict(type='PackDetInputs')])
    return ds[0]


def test_generator_is_deterministic(tmp_path):
    from mmghost.datasets.demo_coco import make_demo_coco
    for d in ('a', 'b'):
        make_demo_coco(str(tmp_path / d), num_train=3, num_val=1, size=64, seed=5)
    a = json.load(open(tmp_path / 'a' / 'annotations' / 'instances_train.json'))
    b = json.load(open(tmp_path / 'b' / 'annotations' / 'instances_train.json'))
    assert a == b
    assert (tmp_path / 'a' / 'train' / '00000.png').read_bytes() == \
        (tmp_path / 'b' / 'train' / '00000.png').read_bytes()


def test_generator_keeps_a_current_set_and_rewrites_a_changed_one(tmp_path):
    from mmghost.datasets.demo_coco import is_current, make_demo_coco
    root = str(tmp_path / 'set')
    args = dict(num_train=3, num_val=2, size=64, seed=5)
    assert not is_current(root, **args)
    make_demo_coco(root, **args)
    assert is_current(root, **args)
    assert not is_current(root, **dict(args, seed=6))
    assert not is_current(root, **dict(args, size=96))
    cli = ['-m', 'mmghost.datasets.demo_coco', '--out', root, '--num-train', '3',
           '--num-val', '2', '--size', '64', '--seed', '5', '--if-changed']
    assert 'kept it' in run_module(cli)
    (tmp_path / 'set' / 'val' / '00001.png').unlink()  # an incomplete set is written again
    assert not is_current(root, **args)
    assert 'wrote 3 train / 2 val' in run_module(cli)
    assert is_current(root, **args)
