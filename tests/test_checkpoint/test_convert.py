"""mmghost.checkpoint.convert: published checkpoints -> mmghost checkpoints.

The published files cannot be downloaded here, so each source layout is rebuilt from its
published key names: a timm model with random weights and BN statistics, its state_dict
re-keyed and re-wrapped as the official release is. Every conversion must load strictly into
our config's classifier and give the logits of the timm model holding the source weights.
"""
import argparse
import collections
import copy
import os
import os.path as osp

import pytest
import torch

from helpers import assert_close_rel, config_model, randomize_bn, timm_model
from mmghost.checkpoint import ConversionError, convert_checkpoint
from mmghost.models.utils import build_classifier

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = (64, 64)


@pytest.fixture(scope='module')
def timm():
    return pytest.importorskip('timm')


@pytest.fixture(scope='module')
def x():
    return torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(1))


def official_v3_keys(state_dict):
    """timm's V3 names -> the official release's (``.bn.`` inside the re-param branches)."""
    return {k.replace('.bn1.', '.bn.') if '_rpr_' in k else k: v for k, v in state_dict.items()}


def with_thop(state_dict):
    """thop's profile() leaves total_ops/total_params buffers in the modules it visits (V2/V3
    files): here the root, every stage and the first block's modules (fewer tiny tensors keep
    the weights-only unpickler fast)."""
    out = dict(state_dict)
    modules = {k.rsplit('.', 1)[0] for k in state_dict if k.startswith('blocks.0.')}
    modules |= {'', 'conv_stem', 'bn1'} | {f'blocks.{i}' for i in range(10)}
    for m in sorted(modules):
        prefix = m + '.' if m else ''
        out[prefix + 'total_ops'] = torch.zeros(1, dtype=torch.float64)
        out[prefix + 'total_params'] = torch.zeros(1, dtype=torch.float64)
    return out


def with_module_prefix(state_dict):
    return {'module.' + k: v for k, v in state_dict.items()}


def logits(model, x):
    with torch.no_grad():
        return model(x, mode='tensor') if hasattr(model, 'data_preprocessor') else model(x)


def convert(src, dst, **kwargs):
    lines = []
    kwargs.setdefault('verify_shape', SIZE)
    result = convert_checkpoint(str(src), str(dst), log=lines.append, **kwargs)
    return result, '\n'.join(lines)


def assert_same_as_timm(dst, config, ref_model, x, rel=1e-5):
    ours = config_model(config, dst)
    assert_close_rel(logits(ours, x), logits(ref_model, x), rel, config)
    return ours


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize('fmt', ['pth', 'safetensors'])
def test_ghostnet_v1_flat(timm, tmp_path, x, fmt):
    """Official state_dict_73.98.pth / timm ghostnet_050: flat, reference key names."""
    ref = timm_model(timm, 'ghostnet_050')
    src = tmp_path / f'state_dict.{fmt}'
    if fmt == 'pth':
        torch.save(ref.state_dict(), src)
    else:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(src))
    result, report = convert(src, tmp_path / 'out.pth')
    assert (result.family, result.width, result.form) == ('GhostNet', 0.5, 'train')
    assert result.config == 'classification/ghostnet/ghostnet-0.5x_8xb128-400e_in1k.py'
    assert result.max_rel_diff is not None and result.max_rel_diff < 1e-5
    assert result.num_tensors == len(ref.state_dict())
    assert f'wrote {tmp_path / "out.pth"}: {result.num_tensors} tensors' in report
    assert_same_as_timm(tmp_path / 'out.pth', result.config, ref, x)
    meta = torch.load(tmp_path / 'out.pth', weights_only=True)['meta']
    assert meta['family'] == 'GhostNet' and meta['width'] == 0.5 and meta['form'] == 'train'
    assert meta['source_copy'] == 'flat state_dict' and len(meta['source_sha256']) == 64


def test_ghostnet_v2_drops_thop_buffers(timm, tmp_path, x):
    """ck_ghostnetv2_10.pth.tar: flat, with thop total_ops/total_params in every module."""
    ref = timm_model(timm, 'ghostnetv2_100')
    sd = with_thop(ref.state_dict())
    n_thop = len(sd) - len(ref.state_dict())
    torch.save(sd, tmp_path / 'ck_ghostnetv2_10.pth.tar')
    result, report = convert(tmp_path / 'ck_ghostnetv2_10.pth.tar', tmp_path / 'out.pth')
    assert (result.family, result.width, result.form) == ('GhostNetV2', 1.0, 'train')
    assert f'{n_thop} thop buffers' in report
    assert_same_as_timm(tmp_path / 'out.pth', result.config, ref, x)
    assert not any('total_' in k for k in torch.load(tmp_path / 'out.pth')['state_dict'])


@pytest.fixture(scope='module')
def v3_pair(timm):
    """Two GhostNetV3 0.5x models standing for the release's state_dict / state_dict_ema."""
    plain = timm_model(timm, 'ghostnetv3_050', seed=0)
    ema = copy.deepcopy(plain)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(1 + 0.05 * torch.randn_like(p))
    return plain, randomize_bn(ema, seed=1).eval()


@pytest.mark.parametrize('ema', [None, True, False])
def test_ghostnet_v3_official_wrapper(v3_pair, tmp_path, x, ema):
    """ghostnetv3-1.0.pth.tar: state_dict + state_dict_ema, `.bn.`, thop, module., extras."""
    plain, ema_model = v3_pair
    ckpt = dict(
        state_dict=with_module_prefix(with_thop(official_v3_keys(plain.state_dict()))),
        state_dict_ema=with_module_prefix(with_thop(official_v3_keys(ema_model.state_dict()))),
        optimizer=dict(state={0: dict(step=torch.tensor(3.))}, param_groups=[dict(lr=0.1)]),
        epoch=599, arch='ghostnetv3', args=argparse.Namespace(model='ghostnetv3', lr=5e-3))
    torch.save(ckpt, tmp_path / 'ghostnetv3-1.0.pth.tar')
    result, report = convert(tmp_path / 'ghostnetv3-1.0.pth.tar', tmp_path / 'out.pth', ema=ema)
    chosen, other = (plain, ema_model) if ema is False else (ema_model, plain)
    assert result.source_copy == ('state_dict' if ema is False else 'state_dict_ema')
    assert (result.family, result.width, result.form) == ('GhostNetV3', 0.5, 'train')
    assert result.config == 'classification/ghostnetv3/ghostnetv3-0.5x_8xb256-lamb-600e_in1k.py'
    unused = 'state_dict_ema (the unused EMA copy' if ema is False else \
        'state_dict (the unused non-EMA copy'
    for text in (unused, 'optimizer', 'epoch', 'args (Namespace)', 'thop buffers',
                 "'module.' prefix stripped"):
        assert text in report, text
    assert "'.bn1.'" not in report  # official names need no BN rename
    ours = assert_same_as_timm(tmp_path / 'out.pth', result.config, chosen, x)
    got, wrong = logits(ours, x), logits(other, x)
    assert (got - wrong).abs().max() > 1e-2 * wrong.abs().max()  # the choice mattered


def test_ghostnet_v3_timm_training_form(v3_pair, tmp_path, x):
    """timm ghostnetv3_*: `.bn1.` inside the re-param branches, flat."""
    plain, _ = v3_pair
    torch.save(plain.state_dict(), tmp_path / 'timm.pth')
    result, report = convert(tmp_path / 'timm.pth', tmp_path / 'out.pth')
    assert "'.bn1.' -> '.bn.'" in report
    assert (result.family, result.form) == ('GhostNetV3', 'train')
    assert_same_as_timm(tmp_path / 'out.pth', result.config, plain, x)


def test_ghostnet_v3_timm_deploy_form(v3_pair, tmp_path, x):
    """A re-parameterized timm/official V3 state_dict (primary_conv.0.{weight,bias}, ...)."""
    deployed = copy.deepcopy(v3_pair[0])
    deployed.convert_to_deploy()
    assert 'blocks.1.0.ghost1.primary_conv.0.bias' in deployed.state_dict()
    torch.save(deployed.state_dict(), tmp_path / 'deploy.pth')
    result, _ = convert(tmp_path / 'deploy.pth', tmp_path / 'out.pth')
    assert (result.family, result.width, result.form) == ('GhostNetV3', 0.5, 'deploy')
    assert result.config == 'classification/ghostnetv3/deploy/ghostnetv3-0.5x_deploy_in1k.py'
    assert_same_as_timm(tmp_path / 'out.pth', result.config, deployed, x)


def test_ghostnet_v3_to_deploy(v3_pair, tmp_path, x):
    """--deploy: training-form source, re-parameterized output for the deploy config."""
    plain, _ = v3_pair
    torch.save({'state_dict': official_v3_keys(plain.state_dict())}, tmp_path / 'v3.pth')
    result, report = convert(tmp_path / 'v3.pth', tmp_path / 'out.pth', deploy=True)
    assert (result.form, result.source_form) == ('deploy', 'train')
    assert 'switch_to_deploy (in float64)' in report
    # Fused and verified in float64: exact to round-off, where a float32 fusion's new
    # summation order alone gave 1e-6 to 1e-4 on random BN statistics.
    assert '(tolerance 1e-05, float64)' in report and result.max_rel_diff < 1e-9
    assert result.config == 'classification/ghostnetv3/deploy/ghostnetv3-0.5x_deploy_in1k.py'
    assert_same_as_timm(tmp_path / 'out.pth', result.config, plain, x, rel=1e-4)


def test_repghost_release_nested_module_prefix(timm, tmp_path, x):
    """RepGhost release: {'state_dict', 'state_dict_ema'}, `module.` keys, fusion_bn layout."""
    ref = timm_model(timm, 'repghostnet_050')
    sd = with_module_prefix(ref.state_dict())
    assert any('fusion_bn' in k for k in sd)
    torch.save({'state_dict': sd, 'state_dict_ema': sd, 'best_acc1': 66.95},
               tmp_path / 'repghostnet_0_5x_43M_66.95.pth.tar')
    result, report = convert(tmp_path / 'repghostnet_0_5x_43M_66.95.pth.tar',
                             tmp_path / 'out.pth')
    assert (result.family, result.width, result.form) == ('RepGhostNet', 0.5, 'train')
    assert result.source_copy == 'state_dict_ema' and 'best_acc1 (float)' in report
    assert_same_as_timm(tmp_path / 'out.pth', result.config, ref, x)


def test_repghost_deploy_layout(timm, tmp_path, x):
    """RepGhost convert.py output: cheap_operation.{weight,bias}, no fusion_bn."""
    ref = timm_model(timm, 'repghostnet_050', deploy=True)
    assert 'blocks.0.0.ghost1.cheap_operation.bias' in ref.state_dict()
    torch.save(ref.state_dict(), tmp_path / 'deploy.pth')
    result, _ = convert(tmp_path / 'deploy.pth', tmp_path / 'out.pth')
    assert (result.family, result.width, result.form) == ('RepGhostNet', 0.5, 'deploy')
    assert result.config == 'classification/repghostnet/deploy/repghostnet-0.5x_deploy_in1k.py'
    assert_same_as_timm(tmp_path / 'out.pth', result.config, ref, x)


def test_timm_repghostnet_058(timm, tmp_path, x):
    """timm repghostnet_058 (flat, training form): width told from the shapes (stem 12)."""
    ref = timm_model(timm, 'repghostnet_058')
    torch.save(ref.state_dict(), tmp_path / 'timm.pth')
    result, _ = convert(tmp_path / 'timm.pth', tmp_path / 'out.pth')
    assert (result.family, result.width) == ('RepGhostNet', 0.58)
    assert_same_as_timm(tmp_path / 'out.pth', result.config, ref, x)


def test_backbone_only_loads_into_detector_backbone(v3_pair, tmp_path, x):
    """backbone_only -> mmdet-style Pretrained init with prefix."""
    from mmengine.config import Config
    from mmengine.registry import MODELS
    plain, _ = v3_pair
    torch.save({'state_dict': official_v3_keys(plain.state_dict())}, tmp_path / 'v3.pth')
    dst = tmp_path / 'backbone.pth'
    convert(tmp_path / 'v3.pth', dst, backbone_only=True)
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['backbone_only'] and all(
        k.startswith('backbone.') for k in saved['state_dict'])
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', 'retinanet_ghostv3.py'))
    backbone_cfg = cfg.model.backbone
    backbone_cfg.widen_factor = 0.5
    backbone_cfg.init_cfg.checkpoint = str(dst)
    assert backbone_cfg.init_cfg.prefix == 'backbone.'
    backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    loaded = backbone.state_dict()
    assert len(loaded) == len(saved['state_dict'])
    for k, v in loaded.items():
        assert torch.equal(v, saved['state_dict']['backbone.' + k]), k
    with torch.no_grad():
        assert_close_rel(backbone.eval()(x)[-1], plain.forward_features(x), 1e-5)


def test_headless_source_needs_backbone_only(timm, tmp_path, x):
    """A backbone without conv_head/classifier: refused, unless --backbone-only (features
    are then verified against timm's forward_features)."""
    ref = timm_model(timm, 'ghostnet_050')
    sd = {k: v for k, v in ref.state_dict().items()
          if not k.startswith(('conv_head', 'classifier'))}
    torch.save(sd, tmp_path / 'features.pth')
    with pytest.raises(ConversionError, match='--backbone-only'):
        convert(tmp_path / 'features.pth', tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()
    result, report = convert(tmp_path / 'features.pth', tmp_path / 'out.pth',
                             backbone_only=True)
    assert result.num_classes is None and 'max relative feature difference' in report
    assert result.num_tensors == len(sd)


def test_ghostnetv3_small_without_timm_counterpart(tmp_path):
    """GhostNetV3-Small (the reference's key names and shapes, 10 classes): timm has no such
    model, so the conversion says it is not verified (its logits are checked against the
    reference code in test_reference_layouts.py)."""
    from reference_data.files import manifest, rebuild
    sd = rebuild(manifest('ghostnetv3_small_official'))
    assert any('primary_rpr_skip' in k for k in sd)
    torch.save({'state_dict': sd}, tmp_path / 'small.pth')
    result, report = convert(tmp_path / 'small.pth', tmp_path / 'out.pth', verify_shape=(32, 32))
    assert (result.family, result.width, result.num_classes) == ('GhostNetV3Small', 2.8, 10)
    assert 'not verified' in report and result.max_rel_diff is None


# ----------------------------------------------------------------------------- refusals
def reference_state_dict(family, width, num_classes=1000, model=None):
    """A reference-layout state_dict from our own classifier (no timm needed)."""
    model = model or build_classifier(family, width, num_classes=num_classes)
    sd = {k[len('backbone.'):]: v for k, v in model.state_dict().items()
          if k.startswith('backbone.')}
    head = model.head.layers
    sd['conv_head.weight'] = head[0].fc.weight.detach()[:, :, None, None]
    sd['conv_head.bias'] = head[0].fc.bias.detach()
    sd['classifier.weight'] = head[1].fc.weight.detach()
    sd['classifier.bias'] = head[1].fc.bias.detach()
    return sd


@pytest.fixture(scope='module')
def v1_half():
    return reference_state_dict('ghostnet', 0.5)


def assert_refused(src, dst, match, **kwargs):
    folder = osp.dirname(str(dst))
    before = set(os.listdir(folder))
    with pytest.raises(ConversionError, match=match) as info:
        convert(src, dst, verify=False, **kwargs)
    assert set(os.listdir(folder)) == before, 'something was written'  # no dst, no temp file
    return str(info.value)


def test_refuses_wrong_family(tmp_path, v1_half):
    torch.save(v1_half, tmp_path / 'v1.pth')
    msg = assert_refused(tmp_path / 'v1.pth', tmp_path / 'out.pth', '--family', family='ghostnetv3')
    assert 'is a GhostNet 0.5x' in msg and '--family ghostnet' in msg


def test_refuses_wrong_width(tmp_path, v1_half):
    torch.save(v1_half, tmp_path / 'v1.pth')
    msg = assert_refused(tmp_path / 'v1.pth', tmp_path / 'out.pth', '--width', width=1.0)
    assert 'GhostNet 0.5x' in msg and '480 channels' in msg


def test_refuses_unrelated_model(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / 'resnet18.pth')
    assert_refused(tmp_path / 'resnet18.pth', tmp_path / 'out.pth',
                   'not a GhostNet-family checkpoint')


@pytest.mark.parametrize('damage', ['delete', 'truncate_name', 'shape'])
def test_refuses_incomplete_state_dict(tmp_path, v1_half, damage):
    sd = dict(v1_half)
    key = 'blocks.3.0.se.conv_reduce.bias'
    if damage == 'delete':
        del sd[key]
        match = f'1 missing key\\(s\\): {key}'
    elif damage == 'truncate_name':
        sd[key[:-2]] = sd.pop(key)
        match = f'1 missing key\\(s\\): {key}; 1 unexpected key\\(s\\): {key[:-2]}'
    else:
        sd[key] = sd[key][:-1]
        match = f'1 shape mismatch\\(es\\): {key}: file'
    torch.save(sd, tmp_path / 'damaged.pth')
    assert_refused(tmp_path / 'damaged.pth', tmp_path / 'out.pth', match)


class _StateDict(collections.OrderedDict):
    """A checkpoint container class that only this test module defines."""


class _Shell:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.mark.parametrize('payload', ['class', 'os.system'])
def test_refuses_arbitrary_pickles(tmp_path, v1_half, payload):
    marker = tmp_path / 'executed'
    if payload == 'class':
        obj, name = _StateDict(v1_half), '_StateDict'
    else:
        obj, name = {'state_dict': v1_half, 'hook': _Shell(marker)}, 'system'
    torch.save(obj, tmp_path / 'evil.pth')
    msg = assert_refused(tmp_path / 'evil.pth', tmp_path / 'out.pth', 'arbitrary unpickling')
    assert name in msg and 're-save only its tensors' in msg
    assert not marker.exists()


@pytest.mark.parametrize('how', ['truncated', 'garbage'])
def test_refuses_corrupt_file(tmp_path, v1_half, how):
    torch.save(v1_half, tmp_path / 'full.pth')
    data = (tmp_path / 'full.pth').read_bytes()
    (tmp_path / 'bad.pth').write_bytes(data[:len(data) // 2] if how == 'truncated'
                                       else b'not a checkpoint' * 64)
    assert_refused(tmp_path / 'bad.pth', tmp_path / 'out.pth', 'corrupt or truncated')


def test_refuses_ema_choice_that_is_not_there(tmp_path, v1_half):
    torch.save(v1_half, tmp_path / 'v1.pth')
    assert_refused(tmp_path / 'v1.pth', tmp_path / 'out.pth', 'no state_dict_ema', ema=True)


def test_failed_verification_writes_nothing(timm, tmp_path):
    ref = timm_model(timm, 'repghostnet_050')
    torch.save(ref.state_dict(), tmp_path / 'rep.pth')
    (tmp_path / 'out.pth').write_bytes(b'old')
    with pytest.raises(ConversionError, match='verification failed'):
        convert(tmp_path / 'rep.pth', tmp_path / 'out.pth', rtol=-1.0)  # nothing passes
    assert (tmp_path / 'out.pth').read_bytes() == b'old'
    assert sorted(os.listdir(tmp_path)) == ['out.pth', 'rep.pth']
