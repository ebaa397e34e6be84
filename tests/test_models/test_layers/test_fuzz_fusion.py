"""Property-based (hypothesis) checks of re-parameterization: for random widths, branch
counts, kernel sizes, strides, input sizes (1x1 and odd included), BN statistics and dtypes,
the fused (deploy) model equals the training-form one in eval mode within 1e-4 relative
(the scale of the output) -- per module, per whole backbone, and through ONNX export.

Examples are derandomized (the same ones every run, so CI is reproducible); set
``MMGHOST_FUZZ_RANDOM=1`` to draw new ones and ``MMGHOST_FUZZ_EXAMPLES=N`` for more.
"""
import copy
import os

import pytest
import torch
from helpers import assert_close_rel, randomize_bn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmghost.models as M
from mmghost.models.layers import GhostBottleneck, GhostModuleV3, RepGhostModule

RANDOM = os.environ.get('MMGHOST_FUZZ_RANDOM') == '1'
SCALE = int(os.environ.get('MMGHOST_FUZZ_EXAMPLES', '1'))


def fuzz(n):
    return settings(max_examples=n * SCALE, deadline=None, derandomize=not RANDOM,
                    suppress_health_check=[HealthCheck.too_slow], print_blob=True)


def _fused_equals_unfused(model, x, seed, rel=1e-4, calibrate=False):
    randomize_bn(model, seed=seed, inputs=x if calibrate else None)
    model.eval()
    fused = copy.deepcopy(model)
    fused.switch_to_deploy()
    assert fused.deploy
    # Fused for real, not only flagged: no training branch is left.
    left = [n for n, _ in fused.named_modules() if 'rpr' in n or 'fusion_bn' in n]
    assert not left, left
    with torch.no_grad():
        assert_close_rel(fused(x), model(x), rel, type(model).__name__)
    return fused


sizes = st.integers(1, 19)
dtypes = st.sampled_from([torch.float32, torch.float64])


@fuzz(40)
@given(data=st.data(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_fused_module_equals_unfused(data, dtype, seed):
    kind = data.draw(st.sampled_from(['GhostModuleV3', 'RepGhostModule', 'bottleneck_v3',
                                      'bottleneck_repghost']), label='kind')
    cin = data.draw(st.integers(1, 24), label='in_channels')
    cout = data.draw(st.integers(1, 24), label='out_channels')
    dw = data.draw(st.sampled_from([3, 5]), label='dw_size')
    if kind == 'GhostModuleV3':
        module = GhostModuleV3(
            cin, cout, kernel_size=data.draw(st.sampled_from([1, 3, 5]), label='kernel'),
            stride=data.draw(st.sampled_from([1, 2]), label='stride'), dw_size=dw,
            num_conv_branches=data.draw(st.integers(1, 4), label='branches'),
            dw_scale=data.draw(st.booleans(), label='dw_scale'),
            use_dfc=data.draw(st.booleans(), label='use_dfc'),
            act_cfg=data.draw(st.sampled_from([None, dict(type='ReLU')]), label='act'))
    elif kind == 'RepGhostModule':
        module = RepGhostModule(
            cin, cout, kernel_size=data.draw(st.sampled_from([1, 3]), label='kernel'),
            dw_size=dw, reparam_bn=data.draw(st.booleans(), label='reparam_bn'),
            reparam_identity=data.draw(st.booleans(), label='reparam_identity'))
    else:
        if kind == 'bottleneck_v3':
            n = data.draw(st.integers(1, 4), label='branches')
            extra = dict(ghost_cfg=dict(type='GhostModuleV3', num_conv_branches=n),
                         dw_cfg=dict(num_conv_branches=n),
                         use_dfc=data.draw(st.booleans(), label='use_dfc'))
        else:
            extra = dict(ghost_cfg=dict(type='RepGhostModule'))
        module = GhostBottleneck(
            cin, data.draw(st.integers(2, 32), label='mid_channels'), cout,
            kernel_size=data.draw(st.sampled_from([3, 5]), label='kernel'),
            stride=data.draw(st.sampled_from([1, 2]), label='stride'),
            se_ratio=data.draw(st.sampled_from([0., 0.25]), label='se_ratio'), **extra)
    h, w = data.draw(sizes, label='H'), data.draw(sizes, label='W')
    n = data.draw(st.integers(1, 3), label='batch')
    module = module.to(dtype)
    x = torch.randn(n, cin, h, w, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    _fused_equals_unfused(module, x, seed)


FAMILIES = {'GhostNetV3': 32, 'RepGhostNet': 32, 'GhostNetV3Small': 8}


def _backbone(data):
    name = data.draw(st.sampled_from(sorted(FAMILIES)), label='family')
    width = data.draw(st.floats(0.2, 1.1), label='widen_factor')
    stride = FAMILIES[name]
    kwargs = {}
    if name == 'GhostNetV3':
        kwargs['num_conv_branches'] = data.draw(st.integers(1, 3), label='branches')
    model = getattr(M, name)(widen_factor=width, out_indices=(1, 3, 6), **kwargs)
    h = data.draw(st.integers(stride, 3 * stride + 1), label='H')
    w = data.draw(st.integers(stride, 3 * stride + 1), label='W')
    return model, (h, w)


@fuzz(10)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_fused_backbone_equals_unfused(data, seed):
    model, (h, w) = _backbone(data)
    x = torch.randn(3, 3, h, w, generator=torch.Generator().manual_seed(seed))
    _fused_equals_unfused(model, x, seed, calibrate=True)


@pytest.mark.filterwarnings('ignore')
@fuzz(4)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_fused_backbone_onnx_equals_pytorch(data, seed, tmp_path_factory):
    pytest.importorskip('onnxruntime')
    from mmghost.export import check_onnx, export_onnx
    model, (h, w) = _backbone(data)
    x = torch.randn(3, 3, h, w, generator=torch.Generator().manual_seed(seed))
    fused = _fused_equals_unfused(model, x, seed, calibrate=True)
    path = str(tmp_path_factory.mktemp('onnx') / 'fused.onnx')
    export_onnx(fused, path, shape=(h, w), deploy=False)
    check_onnx(path, fused, x, rtol=1e-4)
