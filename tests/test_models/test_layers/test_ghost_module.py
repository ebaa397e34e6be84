"""The Ghost module as a drop-in conv (``conv_cfg``): the V1 paper's Ghost-ResNet-50."""
import pytest
import torch
import torch.nn as nn

from helpers import build, num_params
from mmghost.models.layers import GhostModule

pytest.importorskip('mmpretrain')


@pytest.mark.parametrize('k,s,p,d', [(1, 1, 0, 1), (3, 2, 1, 1), (7, 2, 3, 1), (3, 1, 2, 2)])
@pytest.mark.parametrize('ratio', [2, 4])
def test_drop_in_conv_shapes(k, s, p, d, ratio):
    conv = nn.Conv2d(12, 30, k, s, p, d)
    ghost = GhostModule(12, 30, k, stride=s, padding=p, dilation=d, ratio=ratio)
    x = torch.randn(2, 12, 23, 18)
    assert ghost(x).shape == conv(x).shape
    assert ghost.init_channels == -(-30 // ratio)


def test_bad_ratio_and_groups():
    with pytest.raises(ValueError, match='ratio'):
        GhostModule(8, 8, ratio=1)
    with pytest.raises(ValueError, match='groups'):
        GhostModule(9, 16, groups=2)


def ghost_resnet50_cfg(ghost: bool):
    backbone = dict(type='mmpretrain.ResNet', depth=50)
    if ghost:
        backbone['conv_cfg'] = dict(type='mmghost.GhostModule', ratio=2, dw_size=3)
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=backbone,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=1000, in_channels=2048,
                  loss=dict(type='mmpretrain.CrossEntropyLoss')))


def test_ghost_resnet50_replaces_every_conv():
    plain = build(ghost_resnet50_cfg(False))
    ghost = build(ghost_resnet50_cfg(True))
    plain_convs = [n for n, m in plain.backbone.named_modules() if isinstance(m, nn.Conv2d)]
    ghosts = {n for n, m in ghost.backbone.named_modules() if isinstance(m, GhostModule)}
    assert sorted(ghosts) == sorted(plain_convs)
    # V1 paper Table 6: 25.6M -> 13.0M weights with s=2 (about half).
    ratio = num_params(ghost) / num_params(plain)
    assert 0.45 < ratio < 0.58, ratio
    x = torch.randn(2, 3, 64, 64)
    out = ghost(x, mode='tensor')
    assert out.shape == (2, 1000)
    out.sum().backward()
