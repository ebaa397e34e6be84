"""optimize_for_inference: BN folding, NHWC and the concat-free Ghost block keep outputs."""
import copy

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import ALL_BACKBONES, assert_close_rel, randomize_bn
from mmghost import optimize_for_inference
from mmghost.models import backbones as B
from mmghost.models.layers import GhostBottleneck, SplitGhostBottleneck

SIZES = [(97, 131), (64, 48), (33, 35)]


def _backbone(name):
    small = name == 'GhostNetV3Small'
    width = 1.0 if small else 0.5
    return getattr(B, name)(widen_factor=width, out_indices=(1, 4, 6) if small else (2, 4, 6, 9))


@pytest.mark.parametrize('name', ALL_BACKBONES)
@pytest.mark.parametrize('split,channels_last', [(False, False), (True, False), (True, True)])
def test_inference_form_matches_training_form(name, split, channels_last):
    model = _backbone(name)
    h, w = (32, 32) if name == 'GhostNetV3Small' else SIZES[0]
    randomize_bn(model, inputs=torch.randn(8, 3, h, w)).eval()
    fast = optimize_for_inference(copy.deepcopy(model), channels_last=channels_last,
                                  split_ghost=split)
    assert not fast.training
    assert not any(isinstance(m, _BatchNorm) for m in fast.modules()), 'a BN was not folded'
    n_split = sum(isinstance(m, SplitGhostBottleneck) for m in fast.modules())
    expect_split = split and name not in ('RepGhostNet', )
    assert (n_split > 0) == expect_split
    sizes = [(32, 32), (33, 17)] if name == 'GhostNetV3Small' else SIZES + [(31, 45)]
    with torch.no_grad():
        for hw in sizes:
            x = torch.randn(2, 3, *hw)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            assert_close_rel(fast(x), model(x), 1e-4, f'{name} {hw}')


def test_dfc_gate_on_tiny_maps_is_kept():
    """At 31x45 the last DFC input is 1 px high: the gate skips its pooling there too."""
    model = randomize_bn(B.GhostNetV2(widen_factor=0.5), inputs=torch.randn(4, 3, 31, 45)).eval()
    fast = optimize_for_inference(copy.deepcopy(model), split_ghost=True)
    x = torch.randn(1, 3, 31, 45)
    with torch.no_grad():
        assert_close_rel(fast(x), model(x), 1e-4)


def test_split_needs_a_folded_deployed_block():
    block = GhostBottleneck(16, 48, 24, stride=2, se_ratio=0.25, version='v3').eval()
    assert not SplitGhostBottleneck.applicable(block)
    with pytest.raises(ValueError, match='deployed'):
        SplitGhostBottleneck(block)
    v2 = GhostBottleneck(16, 48, 24, stride=2, version='v2', use_dfc=True).eval()
    with pytest.raises(ValueError, match='fold'):
        SplitGhostBottleneck(v2)  # BNs not folded yet


def test_detector_taps_unchanged():
    """Split blocks change nothing outside a block, so detection taps keep their layout."""
    model = randomize_bn(B.GhostNetV3(widen_factor=0.5, out_indices=(2, 4, 6, 9)),
                         inputs=torch.randn(4, 3, 64, 96)).eval()
    fast = optimize_for_inference(copy.deepcopy(model), split_ghost=True)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(fast(x), model(x)):
            assert a.shape == b.shape
            assert_close_rel(a, b, 1e-4)
    assert isinstance(fast.blocks[6][0], SplitGhostBottleneck)
    assert isinstance(fast.blocks[9][0].conv, nn.Conv2d)
