"""The channel-aligned form (ONNX Runtime's blocked layout): same outputs as the deploy form
for every concatenating family at odd sizes, fewer layout reorders in ONNX Runtime's own
optimized graph, exact in both runtimes, whole detectors too, and clear refusals."""
import collections
import copy

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from helpers import assert_close_rel, build, classifier_cfg, randomize_bn
from mmghost import switch_to_deploy
from mmghost.models import backbones as B
from mmghost.reparameterize.aligned_form import (ChannelLayout, align_backbones,
                                                 align_channels, alignable)

CONCAT_FAMILIES = ('GhostNet', 'GhostNetV2', 'GhostNetV3', 'GhostNetV3Small')


def _deployed_backbone(name, widen):
    small = name == 'GhostNetV3Small'
    model = getattr(B, name)(widen_factor=widen,
                             out_indices=(1, 4, 6, 7) if small else (2, 4, 6, 9))
    x = torch.randn(8, 3, *((32, 32) if small else (97, 131)))
    randomize_bn(model, inputs=x).eval()
    return switch_to_deploy(model)


def test_layout_rule():
    # A group is padded to whole blocks only when that grows it by at most a third.
    assert ChannelLayout([12, 12], 16).width == 32
    assert ChannelLayout([12, 12], 16).pos.tolist() == list(range(12)) + list(range(16, 28))
    assert ChannelLayout([60], 16).width == 64 and ChannelLayout([36], 16).width == 48
    assert ChannelLayout([8, 8], 16).width == 16  # 8 -> 16 would double it: packed
    assert ChannelLayout([20], 16).width == 20
    assert ChannelLayout([48, 48], 16, keep=95).channels == 95  # odd Ghost output


@pytest.mark.parametrize('name', CONCAT_FAMILIES)
@pytest.mark.parametrize('widen', [0.5, 1.3])
def test_aligned_form_matches_the_deploy_form(name, widen):
    small = name == 'GhostNetV3Small'
    model = _deployed_backbone(name, 2.8 if small and widen == 0.5 else widen)
    aligned = align_channels(model)
    assert not any(isinstance(m, _BatchNorm) for m in aligned.modules()), 'a BN was left'
    # The padding is real: some conv is wider than any conv of the deploy form's stage.
    widths = {m.out_channels for m in aligned.modules() if isinstance(m, torch.nn.Conv2d)}
    plain = {m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)}
    assert widths - plain, 'nothing was padded'
    sizes = [(32, 32), (33, 17)] if small else [(97, 131), (64, 48), (33, 45)]
    with torch.no_grad():
        for hw in sizes:  # 33x45: the last DFC gates see maps under 2 px and skip pooling
            x = torch.randn(2, 3, *hw)
            out, ref = aligned(x), model(x)
            assert len(out) == len(ref)
            assert_close_rel(out, ref, 1e-5, f'{name} {widen} {hw}')


def test_classifier_logits_within_1e_5_and_the_model_is_not_changed():
    model = build(classifier_cfg('GhostNetV3', 1.0))
    # BN statistics calibrated at the size compared: random ones make the deep maps grow
    # to thousands, and the comparison would measure float round-off amplified 16 times.
    x = torch.randn(8, 3, 129, 97)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor')).eval()
    switch_to_deploy(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = copy.deepcopy(model)
    assert align_backbones(fast) == 1
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with torch.no_grad():
        assert_close_rel(fast(x, mode='tensor'), model(x, mode='tensor'), 1e-5)


def test_refusals():
    rep = switch_to_deploy(B.RepGhostNet(widen_factor=0.5).eval())
    assert not alignable(rep)
    with pytest.raises(ValueError, match='cannot be channel-aligned.*deploy form'):
        align_channels(rep)
    with pytest.raises(ValueError, match='switch_to_deploy first'):
        align_channels(B.GhostNetV3(widen_factor=0.5).eval())  # training form
    with pytest.raises(ValueError, match=r'call \.eval\(\)'):
        align_channels(switch_to_deploy(B.GhostNet(widen_factor=0.5)).train())
    with pytest.raises(ValueError, match='channel block'):
        align_backbones(rep, -1)
    assert align_backbones(rep) == 0  # nothing to align: left as it is


def _ort_reorders(path):
    ort = pytest.importorskip('onnxruntime')
    onnx = pytest.importorskip('onnx')
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = path + '.optimized'
    ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])
    ops = collections.Counter(n.op_type for n in onnx.load(path + '.optimized').graph.node)
    return ops['ReorderInput'] + ops['ReorderOutput']


@pytest.mark.parametrize('name', ['GhostNet', 'GhostNetV3'])
def test_exported_aligned_graph_keeps_ort_blocked_and_runs_exact_in_both_runtimes(
        name, tmp_path):
    from mmghost.export import check_onnx, export_onnx
    from mmghost.runtime import read_metadata
    pytest.importorskip('onnxruntime')
    model = build(classifier_cfg(name, 1.0))
    # Maps of even size at every stride: where one is odd, a DFC gate's nearest resize is
    # not an integer upsampling, which ONNX Runtime does not run in its blocked layout.
    x = torch.randn(8, 3, 128, 160)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor')).eval()
    plain, aligned = str(tmp_path / 'plain.onnx'), str(tmp_path / 'aligned.onnx')
    export_onnx(model, plain, (128, 160), dynamic_batch=False, align_channels=0)
    export_onnx(model, aligned, (128, 160), dynamic_batch=False)  # the default: aligned
    assert read_metadata(plain)['channel_layout'] == 'plain'
    assert read_metadata(aligned)['channel_layout'] == 'aligned to 16 channels'
    # ONNX Runtime's optimizer (the fact checked, not ours) copies far fewer tensors in and
    # out of its blocked layout (1.0x at 224, AVX-512: 87 -> 15 for GhostNet, 108 -> 33 V3).
    assert _ort_reorders(aligned) <= _ort_reorders(plain) // 2
    x = x[:1]
    check_onnx(aligned, model, [x], rtol=1e-5)
    pytest.importorskip('openvino')
    check_onnx(aligned, model, [x], rtol=1e-5, backend='openvino')


def test_dynamic_hw_aligned_export_is_exact_at_other_sizes(tmp_path):
    from mmghost.export import check_onnx, export_onnx
    pytest.importorskip('onnxruntime')
    model = build(classifier_cfg('GhostNetV2', 0.5))
    randomize_bn(model, inputs=lambda m: m(torch.randn(8, 3, 64, 64), mode='tensor')).eval()
    path = str(tmp_path / 'v2.onnx')
    export_onnx(model, path, (64, 64), dynamic_hw=True)
    check_onnx(path, model, [torch.randn(2, 3, 97, 131), torch.randn(2, 3, 33, 47)],
               rtol=1e-4)
