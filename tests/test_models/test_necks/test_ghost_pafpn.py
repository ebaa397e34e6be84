"""GhostPAFPN: shapes, validation, re-parameterization, and its place in an RTMDet."""
import copy

import pytest
import torch

from helpers import assert_close_rel, randomize_bn
from mmghost import switch_to_deploy
from mmghost.models import GhostNetV3, GhostPAFPN
from mmghost.models.layers import is_deployed, pending_reparam_modules

GHOSTS = ['GhostModule', 'GhostModuleV3', 'RepGhostModule']


def feats(channels, size=(41, 33), n=2):
    h, w = size
    out = []
    for c in channels:
        out.append(torch.randn(n, c, h, w))
        h, w = (h + 1) // 2, (w + 1) // 2  # a stride-2 conv with same padding
    return out


@pytest.mark.parametrize('channels', [[40, 112, 160], [24, 40, 112, 160]])
def test_every_level_comes_out_at_out_channels_and_its_input_size(channels):
    neck = GhostPAFPN(channels, 48, num_blocks=2)
    xs = feats(channels)
    outs = neck(xs)
    assert [tuple(o.shape) for o in outs] == [(2, 48) + tuple(x.shape[-2:]) for x in xs]


@pytest.mark.parametrize('ghost', GHOSTS)
def test_switch_to_deploy_is_exact_in_eval_mode(ghost):
    neck = GhostPAFPN([40, 112, 160], 64, block_cfg=dict(ghost_cfg=dict(type=ghost)))
    xs = feats([40, 112, 160], size=(27, 19))
    randomize_bn(neck, seed=1, inputs=xs).eval()
    with torch.no_grad():
        expected = neck(xs)
        fused = switch_to_deploy(copy.deepcopy(neck))
        got = fused(xs)
    assert is_deployed(fused) and not pending_reparam_modules(fused)
    assert_close_rel(got, expected, 1e-5, ghost)
    # a neck built with deploy=True has the fused neck's layout
    built = GhostPAFPN([40, 112, 160], 64, block_cfg=dict(ghost_cfg=dict(type=ghost)),
                       deploy=True)
    assert built.state_dict().keys() == fused.state_dict().keys()
    if ghost != 'GhostModule':  # something was fused
        assert fused.state_dict().keys() != neck.state_dict().keys()


@pytest.mark.parametrize('kwargs, message', [
    (dict(in_channels=[40]), 'at least two input levels'),
    (dict(in_channels='40'), 'at least two input levels'),
    (dict(in_channels=[40, 0]), r'in_channels\[1\] must be a positive integer'),
    (dict(out_channels=0), 'out_channels must be a positive integer'),
    (dict(num_blocks=1.5), 'num_blocks must be a positive integer'),
    (dict(kernel_size=4), 'kernel_size must be odd'),
    (dict(expand_ratio=0), 'expand_ratio must be a positive number'),
    (dict(block_cfg=dict(stride=2)), r"cannot set \['stride'\]"),
    (dict(block_cfg='GhostModule'), 'block_cfg must be a dict'),
])
def test_bad_arguments_name_the_fix(kwargs, message):
    args = dict(in_channels=[40, 112, 160], out_channels=96)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        GhostPAFPN(**args)


def test_inputs_that_do_not_fit_name_the_fix():
    neck = GhostPAFPN([40, 112, 160], 32)
    with pytest.raises(ValueError, match='stage_channels at its out_indices'):
        neck(feats([40, 112, 960]))
    with pytest.raises(ValueError, match='got 2 feature levels, its in_channels list 3'):
        neck(feats([40, 112]))
    xs = feats([40, 112, 160])
    xs[2] = torch.randn(2, 160, 5, 5)  # not half of level 1 (11 x 9)
    with pytest.raises(ValueError, match='half the size'):
        neck(xs)


def test_takes_a_ghost_backbone_at_its_stage_channels():
    backbone = GhostNetV3(out_indices=(4, 6, 8)).eval()
    neck = GhostPAFPN([backbone.stage_channels[i] for i in (4, 6, 8)], 96).eval()
    with torch.no_grad():
        outs = neck(backbone(torch.randn(1, 3, 96, 128)))
    assert [tuple(o.shape[-2:]) for o in outs] == [(12, 16), (6, 8), (3, 4)]


def test_the_backbone_runs_no_stage_after_its_last_output():
    full = GhostNetV3(out_indices=(4, 6, 8, 9)).eval()
    part = GhostNetV3(out_indices=(4, 6, 8)).eval()
    part.load_state_dict(full.state_dict())  # the unused stage is built: weights load
    ran = []
    part.blocks[9].register_forward_hook(lambda *_: ran.append(9))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected, got = full(x)[:3], part(x)
    assert not ran
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
