"""optimize_for_inference: BN folding, NHWC and the concat-free GhostNet keep the outputs."""
import copy

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import ALL_BACKBONES, assert_close_rel, build, classifier_cfg, randomize_bn
from mmghost import optimize_for_inference
from mmghost.models import ConcatFreeGhostNet
from mmghost.models import backbones as B


def _backbone(name, **kwargs):
    small = name == 'GhostNetV3Small'
    return getattr(B, name)(widen_factor=1.0 if small else 0.5,
                            out_indices=(1, 4, 6, 7) if small else (2, 4, 6, 9), **kwargs)


@pytest.mark.parametrize('name', ALL_BACKBONES)
@pytest.mark.parametrize('concat_free,channels_last', [(False, False), (True, False),
                                                       (True, True)])
def test_inference_form_matches_training_form(name, concat_free, channels_last):
    model = _backbone(name)
    small = name == 'GhostNetV3Small'
    randomize_bn(model, inputs=torch.randn(8, 3, *((32, 32) if small else (97, 131)))).eval()
    fast = optimize_for_inference(copy.deepcopy(model), channels_last=channels_last,
                                  concat_free=concat_free)
    assert not fast.training
    assert not any(isinstance(m, _BatchNorm) for m in fast.modules()), 'a BN was not folded'
    assert isinstance(fast, ConcatFreeGhostNet) == (concat_free and name != 'RepGhostNet')
    sizes = [(32, 32), (33, 17)] if small else [(97, 131), (64, 48), (33, 35), (31, 45)]
    with torch.no_grad():
        for hw in sizes:  # 31x45: the last DFC gates see maps under 2 px and skip pooling
            x = torch.randn(2, 3, *hw)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            expected, got = model(x), fast(x)
            assert len(got) == len(expected)
            assert_close_rel(got, expected, 1e-4, f'{name} {hw}')


def test_classifier_backbone_is_replaced():
    model = randomize_bn(build(classifier_cfg('GhostNetV3', 0.5)),
                         inputs=lambda m: m(torch.randn(4, 3, 64, 64), mode='tensor')).eval()
    fast = optimize_for_inference(copy.deepcopy(model), concat_free=True)
    assert isinstance(fast.backbone, ConcatFreeGhostNet)
    x = torch.randn(2, 3, 65, 77)
    with torch.no_grad():
        assert_close_rel(fast(x, mode='tensor'), model(x, mode='tensor'), 1e-4)


def test_concat_free_refuses_unprepared_backbones():
    model = _backbone('GhostNetV3').eval()
    assert not ConcatFreeGhostNet.applicable(model)  # training form, BNs not folded
    with pytest.raises(ValueError, match='optimize_for_inference'):
        ConcatFreeGhostNet(model)
    assert not ConcatFreeGhostNet.applicable(optimize_for_inference(_backbone('RepGhostNet')))
