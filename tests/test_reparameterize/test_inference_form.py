"""optimize_for_inference: deploy + BN folding (+ NHWC) keeps every output."""
import copy

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import ALL_BACKBONES, assert_close_rel, build, classifier_cfg, randomize_bn
from mmghost import optimize_for_inference
from mmghost.models import backbones as B


@pytest.mark.parametrize('name', ALL_BACKBONES)
@pytest.mark.parametrize('channels_last', [False, True])
def test_inference_form_matches_training_form(name, channels_last):
    small = name == 'GhostNetV3Small'
    model = getattr(B, name)(widen_factor=1.0 if small else 0.5,
                             out_indices=(1, 4, 6, 7) if small else (2, 4, 6, 9))
    randomize_bn(model, inputs=torch.randn(8, 3, *((32, 32) if small else (97, 131)))).eval()
    fast = optimize_for_inference(copy.deepcopy(model), channels_last=channels_last)
    assert not fast.training
    assert not any(isinstance(m, _BatchNorm) for m in fast.modules()), 'a BN was not folded'
    sizes = [(32, 32), (33, 17)] if small else [(97, 131), (64, 48), (33, 45)]
    with torch.no_grad():
        for hw in sizes:  # 31x45: the last DFC gates see maps under 2 px and skip pooling
            x = torch.randn(2, 3, *hw)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            assert_close_rel(fast(x), model(x), 1e-4, f'{name} {hw}')


def test_classifier():
    model = randomize_bn(build(classifier_cfg('GhostNetV3', 0.5)),
                         inputs=lambda m: m(torch.randn(4, 3, 64, 64), mode='tensor')).eval()
    fast = optimize_for_inference(copy.deepcopy(model), channels_last=True)
    x = torch.randn(2, 3, 65, 77)
    with torch.no_grad():
        assert_close_rel(fast(x.contiguous(memory_format=torch.channels_last), mode='tensor'),
                         model(x, mode='tensor'), 1e-4)
