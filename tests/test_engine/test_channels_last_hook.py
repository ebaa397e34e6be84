"""ChannelsLastHook: NHWC parameters and inputs, same outputs, checkpoints portable."""
from types import SimpleNamespace

import pytest
import torch
from helpers import assert_close_rel, build, classifier_cfg, randomize_bn


def _classifier():
    model = build(classifier_cfg('GhostNetV3', 0.5))
    randomize_bn(model, inputs=torch.randn(2, 3, 64, 64))
    return model.eval()


def test_hook_converts_parameters_and_inputs_and_keeps_outputs():
    from mmghost.engine import ChannelsLastHook
    model = _classifier()
    x = torch.randn(2, 3, 65, 79)
    with torch.no_grad():
        expected = model(x, mode='tensor')
    seen = []
    model.backbone.conv_stem.register_forward_pre_hook(lambda m, a: seen.append(a[0]))

    ChannelsLastHook().before_run(SimpleNamespace(model=model))
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    with torch.no_grad():
        out = model(x, mode='tensor')
    assert seen[-1].is_contiguous(memory_format=torch.channels_last)
    assert not x.is_contiguous(memory_format=torch.channels_last)  # caller's tensor untouched
    # Only the summation order differs (oneDNN's NHWC kernels); the randomized BN statistics
    # give logits of a few hundred, so compare relative to their scale.
    assert_close_rel(out, expected, rel=1e-3)

    # A checkpoint of the NHWC model loads strictly into an ordinary one.
    plain = build(classifier_cfg('GhostNetV3', 0.5)).eval()
    plain.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(plain(x, mode='tensor'), expected)


def test_hook_under_a_wrapper_converts_only_inputs():
    from mmghost.engine import ChannelsLastHook
    model = _classifier()
    # DataParallel is a registered model wrapper that runs on CPU without a process group.
    ChannelsLastHook().before_run(SimpleNamespace(model=torch.nn.DataParallel(model)))
    assert not model.backbone.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    model.backbone.conv_stem.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    with torch.no_grad():
        model(torch.randn(1, 3, 33, 33), mode='tensor')
    assert seen[-1].is_contiguous(memory_format=torch.channels_last)


def test_hook_names_a_missing_module_and_builds_from_any_scope():
    from mmengine.registry import HOOKS, DefaultScope
    from mmghost.engine import ChannelsLastHook
    with pytest.raises(ValueError, match="no 'stem'"):
        ChannelsLastHook(module='stem').before_run(SimpleNamespace(model=_classifier()))
    for scope in ('mmdet', 'mmpretrain'):
        with DefaultScope.overwrite_default_scope(scope):
            hook = HOOKS.build(dict(type='mmghost.ChannelsLastHook'))
        assert isinstance(hook, ChannelsLastHook)
