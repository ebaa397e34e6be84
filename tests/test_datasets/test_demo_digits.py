"""The digits classification demo set: real scans, stratified held-out split, readable by
mmpretrain."""
import os
import os.path as osp

import pytest

from mmghost.datasets.demo_digits import (DIGIT_CLASSES, digits_is_current,
                                          make_digits_classification)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('digits'))
    return root, make_digits_classification(root, seed=3)


def test_every_scan_is_written_once_with_a_stratified_held_out_split(digits):
    root, counts = digits
    assert counts == {'train': 1438, 'val': 359}
    names = {s: set() for s in counts}
    for split in counts:
        for c in DIGIT_CLASSES:
            files = os.listdir(osp.join(root, split, c))
            names[split] |= set(files)
            if split == 'val':
                assert 34 <= len(files) <= 38  # 20% of each digit's 174-183 scans
    assert not names['train'] & names['val']  # no scan in both splits
    assert len(names['train']) + len(names['val']) == 1797


def test_same_seed_same_split_and_if_changed_check(digits, tmp_path):
    root, _ = digits
    assert digits_is_current(root, seed=3)
    assert not digits_is_current(root, seed=4)
    other = str(tmp_path / 'again')
    make_digits_classification(other, seed=3)
    for c in DIGIT_CLASSES:
        assert sorted(os.listdir(osp.join(root, 'val', c))) == \
            sorted(os.listdir(osp.join(other, 'val', c)))
    os.remove(osp.join(other, 'val', '0', sorted(os.listdir(osp.join(other, 'val', '0')))[0]))
    assert not digits_is_current(other, seed=3)  # an incomplete set is not current


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match='val_fraction'):
        make_digits_classification(str(tmp_path), val_fraction=1.0)
    with pytest.raises(ValueError, match='size'):
        make_digits_classification(str(tmp_path), size=4)


def test_loads_as_an_mmpretrain_custom_dataset(digits):
    from mmengine.registry import DefaultScope
    from mmpretrain.datasets import CustomDataset
    root, counts = digits
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = CustomDataset(data_root=root, data_prefix='val', classes=DIGIT_CLASSES,
                           pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
        sample = ds[0]
    assert len(ds) == counts['val']
    assert sample['inputs'].shape == (3, 32, 32)
    assert sorted({ds.get_gt_labels()[i] for i in range(len(ds))}) == list(range(10))
