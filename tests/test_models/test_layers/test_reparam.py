"""Exactness of re-parameterization: math helpers, every block, whole models."""
import copy

import pytest
import torch
import torch.nn as nn

from helpers import REPARAM, assert_close_rel, build, classifier_cfg, randomize_bn
from mmghost import switch_to_deploy
from mmghost.models import GhostNetV3, GhostNetV3Small, RepGhostNet
from mmghost.models.layers import (GhostBottleneck, GhostModuleV3, RepGhostModule,
                                   RepModuleMixin, fuse_branches, fuse_conv_bn,
                                   identity_kernel, is_deployed, pad_kernel)


def test_fuse_conv_bn_matches_sequential():
    conv = nn.Conv2d(6, 8, 3, padding=1, bias=False)
    bn = randomize_bn(nn.BatchNorm2d(8)).eval()
    w, b = fuse_conv_bn(conv.weight, bn)
    x = torch.randn(2, 6, 9, 7)
    assert_close_rel(nn.functional.conv2d(x, w, b, padding=1), bn(conv(x)), 1e-5)


def test_fuse_conv_bn_rejects_bn_without_stats():
    with pytest.raises(ValueError, match='track_running_stats'):
        fuse_conv_bn(torch.randn(4, 4, 1, 1), nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(TypeError, match='BatchNorm'):
        fuse_conv_bn(torch.randn(4, 4, 1, 1), nn.GroupNorm(2, 4))


@pytest.mark.parametrize('groups,k', [(1, 1), (1, 3), (6, 3), (2, 5)])
def test_identity_kernel_is_identity(groups, k):
    x = torch.randn(2, 6, 7, 5)
    out = nn.functional.conv2d(x, identity_kernel(6, 6, groups, k), padding=k // 2,
                               groups=groups)
    assert torch.equal(out, x)


def test_identity_kernel_needs_square_mapping():
    with pytest.raises(ValueError, match='as many output as input'):
        identity_kernel(4, 6, 1, 1)


@pytest.mark.parametrize('stride', [1, 2])
def test_pad_kernel_keeps_output(stride):
    x = torch.randn(1, 4, 11, 8)
    k1 = torch.randn(4, 1, 1, 1)
    a = nn.functional.conv2d(x, k1, stride=stride, groups=4)
    b = nn.functional.conv2d(x, pad_kernel(k1, 5), stride=stride, padding=2, groups=4)
    assert_close_rel(b, a, 1e-6)


def test_fuse_branches_sum():
    convs = [nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False) for _ in range(2)]
    bns = [randomize_bn(nn.BatchNorm2d(4), s).eval() for s in range(4)]
    scale = nn.Conv2d(4, 4, 1, groups=4, bias=False)
    branches = [(convs[0].weight, bns[0]), (convs[1].weight, bns[1]), (scale.weight, bns[2]),
                (None, bns[3])]
    w, b = fuse_branches(branches, 3, 4, 4, groups=4)
    x = torch.randn(2, 4, 6, 9)
    ref = bns[0](convs[0](x)) + bns[1](convs[1](x)) + bns[2](scale(x)) + bns[3](x)
    assert_close_rel(nn.functional.conv2d(x, w, b, padding=1, groups=4), ref, 1e-5)


def _check_block(block: nn.Module, x: torch.Tensor):
    randomize_bn(block).eval()
    with torch.no_grad():
        ref = block(x)
        block.switch_to_deploy()
        assert block.deploy
        out = block(x)
    assert_close_rel(out, ref, 1e-4, type(block).__name__)
    assert not any(isinstance(m, nn.BatchNorm2d) and 'rpr' in n
                   for n, m in block.named_modules())


@pytest.mark.parametrize('inp,oup', [(16, 48), (24, 24), (12, 24), (8, 20)])
@pytest.mark.parametrize('branches,dw_scale', [(1, False), (3, True), (2, True)])
@pytest.mark.parametrize('use_dfc', [False, True])
def test_ghost_module_v3(inp, oup, branches, dw_scale, use_dfc):
    m = GhostModuleV3(inp, oup, num_conv_branches=branches, dw_scale=dw_scale,
                      use_dfc=use_dfc)
    # (12, 24) has as many inputs as intrinsic channels: the primary identity branch exists.
    assert (m.primary_rpr_skip is not None) == (inp == (oup + 1) // 2)
    _check_block(m, torch.randn(2, inp, 13, 10))
    assert not hasattr(m, 'primary_rpr_conv') and not hasattr(m, 'cheap_rpr_skip')


def test_ghost_module_v3_primary_kernel():
    m = GhostModuleV3(10, 20, kernel_size=3, use_dfc=True)
    assert m.primary_rpr_scale is not None
    _check_block(m, torch.randn(1, 10, 9, 9))
    assert m.primary_conv[0].weight.shape == (10, 10, 3, 3)


@pytest.mark.parametrize('reparam_bn,reparam_identity', [(True, False), (True, True),
                                                         (False, True), (False, False)])
def test_repghost_module(reparam_bn, reparam_identity):
    m = RepGhostModule(12, 20, reparam_bn=reparam_bn, reparam_identity=reparam_identity)
    _check_block(m, torch.randn(2, 12, 11, 6))
    assert isinstance(m.cheap_operation, nn.Conv2d) and not hasattr(m, 'fusion_bn')


@pytest.mark.parametrize('k,stride', [(3, 2), (5, 2), (5, 1)])
@pytest.mark.parametrize('version', ['v3', 'rep'])
def test_bottleneck(k, stride, version):
    if version == 'v3':
        cfgs = dict(ghost_cfg=dict(type='GhostModuleV3', num_conv_branches=3),
                    dw_cfg=dict(num_conv_branches=3, dw_scale=True), use_dfc=True)
    else:
        cfgs = dict(ghost_cfg=dict(type='mmghost.RepGhostModule'))
    block = GhostBottleneck(16, 48, 24, k, stride, se_ratio=0.25, **cfgs)
    for sub in (block.ghost1, block.ghost2):
        randomize_bn(sub)
    _check_block_recursive(block, torch.randn(2, 16, 15, 12))


def _check_block_recursive(model, x, calibrate=False):
    randomize_bn(model, inputs=x if calibrate else None).eval()
    with torch.no_grad():
        ref = model(x)
        switch_to_deploy(model)
        out = model(x)
    assert is_deployed(model)
    assert_close_rel(out, ref, 1e-4)


SIZES = [(224, 224), (97, 131), (32, 32)]


@pytest.mark.parametrize('name,width', [(n, w) for n in ('GhostNetV3', 'RepGhostNet')
                                        for w in (0.5, 1.0, 1.3)] +
                         [('GhostNetV3Small', 1.0), ('GhostNetV3Small', 2.8)])
def test_classifier_fusion_exact(name, width):
    """Deploy == training form in eval mode, randomized BN, at 224², 97x131 and 32².

    For each size the BN statistics are calibrated on inputs of that size and then perturbed
    (see ``randomize_bn``); with purely random statistics a 16-block random network amplifies
    float32 round-off by ~1e6 and the comparison would measure that, not the fusion (in
    float64 the fusion agrees to 1e-9 there).
    """
    model = build(classifier_cfg(name, width))
    # The fused model is the deploy config's model, module for module and tensor for tensor
    # (a switch_to_deploy that only set flags would keep the branches and their BNs).
    deployed = build(classifier_cfg(name, width, deploy=True))
    fused = switch_to_deploy(copy.deepcopy(model))
    assert sorted((n, type(m).__name__) for n, m in fused.named_modules()) == \
        sorted((n, type(m).__name__) for n, m in deployed.named_modules())
    assert {k: v.shape for k, v in fused.state_dict().items()} == \
        {k: v.shape for k, v in deployed.state_dict().items()}
    assert sum(p.numel() for p in fused.parameters()) == \
        sum(p.numel() for p in deployed.parameters()) < sum(p.numel() for p in model.parameters())
    for i, (h, w) in enumerate(SIZES):
        # Enough samples that deep, tiny maps (1x1 at 32²) still get sane statistics.
        calib = torch.randn(min(32, max(4, 4 * 224 * 224 // (h * w))), 3, h, w)
        randomize_bn(model, seed=i, inputs=lambda m: m(calib, mode='tensor')).eval()
        fused = switch_to_deploy(copy.deepcopy(model))
        assert is_deployed(fused)
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            ref = model(x, mode='tensor')
            out = fused(x, mode='tensor')
        assert_close_rel(out, ref, 1e-4, f'{name} {width}x at {h}x{w}')


def test_v3_small_primary_identity_is_fused():
    """The reference code crashes here; the fused identity must be a 1x1 identity matrix."""
    model = GhostNetV3Small(widen_factor=2.8)
    skips = [n for n, m in model.named_modules()
             if isinstance(m, GhostModuleV3) and m.primary_rpr_skip is not None]
    assert skips == ['blocks.1.0.ghost1', 'blocks.2.0.ghost1', 'blocks.6.0.ghost1',
                     'blocks.6.1.ghost1']
    _check_block_recursive(model, torch.randn(4, 3, 32, 32), calibrate=True)
    conv = model.blocks[1][0].ghost1.primary_conv[0]
    assert conv.kernel_size == (1, 1) and conv.padding == (0, 0)


def test_switch_is_idempotent_and_keeps_mode():
    model = randomize_bn(GhostNetV3(widen_factor=0.5)).eval()
    model.switch_to_deploy()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    model.switch_to_deploy()
    switch_to_deploy(model)
    assert model.deploy and not model.training
    assert sd.keys() == model.state_dict().keys()
    assert all(torch.equal(sd[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize('name,kwargs', [('GhostNetV3', dict(widen_factor=1.0)),
                                         ('GhostNetV3', dict(widen_factor=0.5,
                                                             num_conv_branches=2,
                                                             dw_scale=False)),
                                         ('RepGhostNet', dict(widen_factor=1.11)),
                                         ('GhostNetV3Small', dict(widen_factor=1.0))])
def test_fused_state_dict_loads_strictly_into_deploy_model(name, kwargs):
    cfg = classifier_cfg(name, **kwargs)
    model = build(cfg)
    randomize_bn(model, inputs=lambda m: m(torch.randn(4, 3, 32, 32), mode='tensor')).eval()
    switch_to_deploy(model)
    deploy_cfg = classifier_cfg(name, deploy=True, **kwargs)
    deployed = build(deploy_cfg).eval()
    assert is_deployed(deployed)
    deployed.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(deployed(x, mode='tensor'), model(x, mode='tensor'))


def test_switch_to_deploy_on_detector():
    pytest.importorskip('mmdet')
    from mmengine.registry import DefaultScope
    cfg = dict(
        type='mmdet.RetinaNet',
        data_preprocessor=dict(type='mmdet.DetDataPreprocessor'),
        backbone=dict(type='mmghost.RepGhostNet', widen_factor=0.5, out_indices=(4, 6, 9)),
        neck=dict(type='mmdet.FPN', in_channels=[20, 56, 480], out_channels=32,
                  num_outs=3),
        bbox_head=dict(
            type='mmdet.RetinaHead', num_classes=3, in_channels=32, feat_channels=32,
            stacked_convs=1,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=1, ratios=[1.0], strides=[8, 16, 32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                            target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = build(cfg)
    x = torch.randn(1, 3, 96, 64)
    randomize_bn(det.backbone, inputs=torch.randn(4, 3, 96, 64)).eval()
    det.eval()
    with torch.no_grad():
        ref = det(x, mode='tensor')
        switch_to_deploy(det)
        out = det(x, mode='tensor')
    assert is_deployed(det)
    for a, b in zip(sum(map(list, out), []), sum(map(list, ref), [])):
        assert_close_rel(a, b, 1e-4)


def test_switch_to_deploy_calls_foreign_blocks_once():
    calls = []

    class Foreign(nn.Module):

        def __init__(self):
            super().__init__()
            self.inner = nn.ModuleList([Leaf(), Leaf()])

        def switch_to_deploy(self):
            calls.append('outer')
            for m in self.inner:
                m.switch_to_deploy()

    class Leaf(nn.Module):

        def switch_to_deploy(self):
            calls.append('leaf')

    model = nn.Sequential(Foreign(), GhostModuleV3(4, 8))
    switch_to_deploy(model)
    assert calls == ['outer', 'leaf', 'leaf']
    assert model[1].deploy


def test_is_reparam_family():
    for name in REPARAM:
        assert isinstance(build(dict(type=f'mmghost.{name}')), RepModuleMixin)


@pytest.mark.parametrize('cls', [GhostNetV3, RepGhostNet, GhostNetV3Small])
def test_wrong_form_weights_are_refused(cls):
    train_form = cls(widen_factor=1.0)
    fused = switch_to_deploy(copy.deepcopy(train_form.eval()))
    with pytest.raises(ValueError, match='deploy \\(re-parameterized\\) form'):
        cls(widen_factor=1.0).load_state_dict(fused.state_dict(), strict=False)
    with pytest.raises(ValueError, match='training form of'):
        cls(widen_factor=1.0, deploy=True).load_state_dict(train_form.state_dict(),
                                                           strict=False)
    # Same form loads (also through mmengine's prefix-stripping loader).
    cls(widen_factor=1.0, deploy=True).load_state_dict(fused.state_dict(), strict=True)
