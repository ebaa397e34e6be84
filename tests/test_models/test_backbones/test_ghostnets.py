"""Behaviour of the five backbones: outputs, validation, freezing, norm_eval, checkpointing."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import ALL_BACKBONES, build
from mmghost.models import (GhostNet, GhostNetV2, GhostNetV3, GhostNetV3Small, RepGhostNet)
from mmghost.families import make_divisible
from mmghost.models.layers import GhostBottleneck

CLASSES = dict(GhostNet=GhostNet, GhostNetV2=GhostNetV2, GhostNetV3=GhostNetV3,
               RepGhostNet=RepGhostNet, GhostNetV3Small=GhostNetV3Small)

# Reference channel tables (spec §7 and Appendix A): stem, then blocks.0 .. blocks.9.
IMAGENET_CHANNELS = {
    0.5: [8, 12, 12, 20, 20, 40, 56, 80, 80, 480],
    1.0: [16, 24, 24, 40, 40, 80, 112, 160, 160, 960],
    1.3: [20, 32, 32, 52, 52, 104, 144, 208, 208, 1248],
    1.6: [24, 40, 40, 64, 64, 128, 180, 256, 256, 1536],
}
REPGHOST_CHANNELS = {
    0.58: [12, 16, 16, 24, 24, 48, 64, 92, 92, 556],
    1.11: [16, 28, 28, 44, 44, 88, 124, 176, 176, 1064],
    2.0: [32, 48, 48, 80, 80, 160, 224, 320, 320, 1920],
}
IMAGENET_STRIDES = [2, 4, 4, 8, 8, 16, 16, 32, 32, 32]


@pytest.mark.parametrize('name', ['GhostNet', 'GhostNetV2', 'GhostNetV3'])
@pytest.mark.parametrize('width', [0.5, 1.0, 1.3, 1.6])
def test_imagenet_stage_shapes(name, width):
    model = CLASSES[name](widen_factor=width, out_indices=tuple(range(10))).eval()
    expected = IMAGENET_CHANNELS[width]
    assert model.stage_channels == expected
    assert model.stage_strides == IMAGENET_STRIDES
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    assert isinstance(outs, tuple) and len(outs) == 10
    for out, c, s in zip(outs, expected, IMAGENET_STRIDES):
        assert out.shape == (1, c, -(-64 // s), -(-96 // s))


@pytest.mark.parametrize('width', [0.58, 1.11, 2.0])
def test_repghost_stage_shapes(width):
    model = RepGhostNet(widen_factor=width, out_indices=(2, 4, 6, 9)).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 64))
    expected = REPGHOST_CHANNELS[width]
    assert [o.shape[1] for o in outs] == [expected[i] for i in (2, 4, 6, 9)]
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


@pytest.mark.parametrize('width,channels', [(1.0, [16, 16, 20, 20, 32, 32, 64, 80, 160]),
                                            (2.8, [44, 44, 56, 56, 88, 88, 180, 224, 448])])
def test_v3_small_shapes(width, channels):
    model = GhostNetV3Small(widen_factor=width, out_indices=tuple(range(8))).eval()
    assert model.stage_channels == channels[1:]
    assert model.stage_strides == [1, 2, 2, 2, 2, 4, 4, 4]
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[1:] for o in outs] == [
        (c, 32 // s, 32 // s) for c, s in zip(channels[1:], model.stage_strides)
    ]


def test_default_out_indices_is_last_stage():
    for name, cls in CLASSES.items():
        model = cls(widen_factor=0.5)
        assert model.out_indices == (model.num_stages - 1, ), name


def test_negative_out_indices():
    model = GhostNet(widen_factor=0.5, out_indices=(-3, -1))
    assert model.out_indices == (7, 9)


def test_any_positive_width():
    # Widths off the papers' grid still build consistent channel plans.
    for width in (0.35, 0.77, 2.5):
        model = GhostNetV3(widen_factor=width, out_indices=(9, )).eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 32, 32))[0]
        assert out.shape[1] == make_divisible(960 * width, 4)


def test_dfc_rule():
    """DFC attention gates ghost1 of bottlenecks with layer_id > 1 (V2/V3) and nowhere else."""
    for cls, expect in ((GhostNet, False), (RepGhostNet, False), (GhostNetV2, True),
                        (GhostNetV3, True), (GhostNetV3Small, True)):
        blocks = [m for m in cls(widen_factor=1.0).modules() if isinstance(m, GhostBottleneck)]
        flags = [getattr(b.ghost1, 'use_dfc', False) for b in blocks]
        assert flags == [False, False] + [expect] * (len(blocks) - 2), cls.__name__
        assert not any(getattr(b.ghost2, 'use_dfc', False) for b in blocks)


@pytest.mark.parametrize('name', ['GhostNetV2', 'GhostNetV3'])
@pytest.mark.parametrize('size', [(32, 32), (32, 47), (33, 65), (65, 97)])
def test_dfc_any_input_size(name, size):
    """Non-square, odd and 1 px maps at the deepest stages (reference code crashes)."""
    model = CLASSES[name](widen_factor=0.5, out_indices=(9, )).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))[0]
    assert out.shape[-2:] == tuple(-(-s // 32) for s in size)
    assert torch.isfinite(out).all()
    # Smaller than the total stride of the last output stage: one clear error.
    with pytest.raises(ValueError, match=r'input is 31x47, smaller than the total stride 32'):
        model(torch.randn(1, 3, 31, 47))
    # Shallower outputs need less.
    shallow = CLASSES[name](widen_factor=0.5, out_indices=(2, )).eval()
    assert shallow(torch.randn(1, 3, 5, 9))[0].shape[-2:] == (2, 3)  # stride 4


@pytest.mark.parametrize('name', ALL_BACKBONES)
def test_bad_arguments(name):
    cls = CLASSES[name]
    n = cls(widen_factor=0.5).num_stages
    with pytest.raises(ValueError, match='unknown arch'):
        cls(arch='tiny')
    for bad in (0, -1.0, float('nan'), float('inf'), 'wide', True, None):
        with pytest.raises(ValueError, match='widen_factor'):
            cls(widen_factor=bad)
    for bad in ((n, ), (-n - 1, ), (3, 1), (2, 2), (), (1.5, ), 'x'):
        with pytest.raises(ValueError, match='out_indices'):
            cls(widen_factor=0.5, out_indices=bad)
    for bad in (-2, n + 1, 1.0, True):
        with pytest.raises(ValueError, match='frozen_stages'):
            cls(widen_factor=0.5, frozen_stages=bad)


def test_bad_v3_arguments():
    with pytest.raises(ValueError, match='num_conv_branches'):
        GhostNetV3(num_conv_branches=0)
    # V1/V2 have nothing to re-parameterize and take no `deploy` argument.
    with pytest.raises(TypeError, match='deploy'):
        build(dict(type='mmghost.GhostNet', deploy=True))


def test_custom_stage_table():
    table = [[[3, 16, 16, 0, 1]], [[3, 48, 24, 0.25, 2]], [[5, 96, 40, 0, 2]]]
    model = GhostNetV3(arch=table, out_indices=(0, 1, 2, 3)).eval()
    assert model.stage_channels == [16, 24, 40, 96]
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 32, 32))
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 4]
    with pytest.raises(ValueError, match='stage'):
        GhostNet(arch=[[[3, 16, 16]]])


def _bn_modes(module):
    return [m.training for m in module.modules() if isinstance(m, _BatchNorm)]


@pytest.mark.parametrize('name', ALL_BACKBONES)
def test_frozen_stages(name):
    frozen = 3
    model = CLASSES[name](widen_factor=0.5, frozen_stages=frozen)
    model.train()
    for module in [model.conv_stem, model.bn1, *model.blocks[:frozen]]:
        assert not any(_bn_modes(module))
        assert all(not p.requires_grad for p in module.parameters())
    for module in model.blocks[frozen:]:
        assert all(_bn_modes(module))
        assert all(p.requires_grad for p in module.parameters())
    # All stages frozen is allowed.
    model = CLASSES[name](widen_factor=0.5, frozen_stages=model.num_stages).train()
    assert all(not p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('name', ALL_BACKBONES)
def test_norm_eval(name):
    model = CLASSES[name](widen_factor=0.5, norm_eval=True)
    model.train()
    assert not any(_bn_modes(model))
    model = CLASSES[name](widen_factor=0.5, norm_eval=False).train()
    assert all(_bn_modes(model))


@pytest.mark.parametrize('name', ['GhostNetV2', 'GhostNetV3'])
def test_with_cp_same_gradients(name, monkeypatch):
    from mmghost.models.layers import ghost_bottleneck
    torch.manual_seed(0)
    ref = CLASSES[name](widen_factor=0.5, out_indices=(4, 9)).train()
    cp_model = CLASSES[name](widen_factor=0.5, out_indices=(4, 9), with_cp=True).train()
    cp_model.load_state_dict(ref.state_dict())
    calls = []  # every bottleneck's forward goes through torch's checkpoint, once per block
    checkpoint = ghost_bottleneck.cp.checkpoint
    monkeypatch.setattr(ghost_bottleneck.cp, 'checkpoint',
                        lambda fn, *a, **k: calls.append(fn) or checkpoint(fn, *a, **k))
    x = torch.randn(2, 3, 64, 64)
    for model in (ref, cp_model):
        before = len(calls)
        sum(o.sum() for o in model(x)).backward()
        blocks = sum(isinstance(b, GhostBottleneck) for b in model.modules())
        assert len(calls) - before == (blocks if model is cp_model else 0)
    for (n, p), q in zip(ref.named_parameters(), cp_model.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5), n


def test_norm_cfg_is_used():
    model = GhostNetV3(widen_factor=0.5, norm_cfg=dict(type='GN', num_groups=2))
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())


def test_init_weights_follows_init_cfg():
    model = GhostNetV2(widen_factor=0.5)
    with torch.no_grad():
        model.bn1.weight.zero_()
        model.conv_stem.weight.zero_()
    model.init_weights()
    assert model.bn1.weight.eq(1).all()  # Constant(1) on BN
    assert model.conv_stem.weight.std() > 0  # Kaiming on convs
