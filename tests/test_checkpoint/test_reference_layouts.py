"""Conversion checked against facts from the reference code, not against mmghost's own models.

``tests/reference_data/manifests/*.json`` hold the key names, shapes and dtypes (and a wrapper's
other entries) of each published layout, and ``logits/*.json`` the eval-mode logits of the
reference model holding seeded weights, all written once by
``tests/reference_data/make_reference_data.py`` from the papers' repositories and timm. Here a
checkpoint file is rebuilt from a manifest alone (the same seeded weights), and the layout
detection, the key normalization, the strict load into our config's classifier and the
converted model's logits are checked against those facts.
"""
import pytest
import torch

from helpers import assert_close_rel, config_model
from mmghost.checkpoint import convert_checkpoint
from mmghost.checkpoint.layouts import normalize_keys, select_state_dict
from mmghost.families import FAMILIES, THOP_SUFFIXES, detect_layout, detect_width
from reference_data.files import FIXTURES, MANIFESTS, fixture, fixture_input, manifest, rebuild
from reference_data.weights import checksum


#: The published layouts the converter reads (see mmghost.checkpoint.convert); each has a manifest.
PUBLISHED = {
    'ghostnet_official', 'ghostnetv2_official', 'ghostnetv3_official',
    'ghostnetv3_official_module', 'ghostnetv3_official_deploy', 'ghostnetv3_small_official',
    'repghostnet_release', 'repghostnet_deploy', 'timm_ghostnet_100', 'timm_ghostnetv2_100',
    'timm_ghostnetv3_100', 'timm_ghostnetv3_100_deploy', 'timm_repghostnet_100',
    'timm_repghostnet_100_deploy'}
#: timm's file of a model -> the reference repository's file of the same model.
SAME_MODEL = {
    'timm_ghostnet_100': 'ghostnet_official', 'timm_ghostnetv2_100': 'ghostnetv2_official',
    'timm_ghostnetv3_100': 'ghostnetv3_official', 'ghostnetv3_official_module':
    'ghostnetv3_official', 'timm_ghostnetv3_100_deploy': 'ghostnetv3_official_deploy',
    'timm_repghostnet_100': 'repghostnet_release',
    'timm_repghostnet_100_deploy': 'repghostnet_deploy'}
#: The converter's flag for a copy: the EMA copy is the default (no flag), as for a user.
EMA = {'state_dict_ema': None, 'state_dict': False, '': None}


def weights(m):
    return {k for k in m['tensors'] if k.rsplit('.', 1)[-1] not in THOP_SUFFIXES}


def family_key(backbone):
    return next(k for k, f in FAMILIES.items() if f.backbone == backbone)


def test_every_published_layout_has_a_manifest_from_the_reference_code():
    assert set(MANIFESTS) == PUBLISHED
    for name in MANIFESTS:
        m = manifest(name)
        assert m['name'] == name and m['tensors']
        # A recorded source: a repository at a commit, or a timm version.
        assert m['reference'].startswith('timm ') or '@' in m['reference'] and \
            not m['reference'].endswith('@None'), m['reference']
    assert {manifest(n)['family'] for n in MANIFESTS} == {f.backbone for f in FAMILIES.values()}
    assert {manifest(n)['family'] for n in {f.split('.')[0] for f in FIXTURES}} == \
        {f.backbone for f in FAMILIES.values()}


@pytest.mark.parametrize('name', MANIFESTS)
def test_detect_layout_names_the_reference_model(name):
    m = manifest(name)
    state_dict, copy, _ = select_state_dict(rebuild(m))
    assert copy == ('state_dict_ema' if m['copies'] else 'flat state_dict')
    normalized, _, _ = normalize_keys(state_dict)
    key, form = detect_layout(normalized)
    assert (FAMILIES[key].backbone, form) == (m['family'], m['form'])
    assert detect_width(normalized, key) == m['width']


@pytest.mark.parametrize('name', sorted(SAME_MODEL))
def test_normalized_keys_are_the_reference_names(name):
    """Two sources of one model (timm's file, the repository's file, a ``module.`` file) give
    the same keys and shapes once normalized: what :func:`to_mmghost` maps from."""
    def normalized(m):
        sd, _, _ = normalize_keys(select_state_dict(rebuild(m))[0])
        return {k: tuple(v.shape) for k, v in sd.items()}
    ours, ref = normalized(manifest(name)), normalized(manifest(SAME_MODEL[name]))
    assert sorted(set(ours) ^ set(ref)) == []
    assert ours == ref


@pytest.mark.parametrize('name', MANIFESTS)
def test_every_layout_converts_and_loads_strictly(tmp_path, name):
    m = manifest(name)
    torch.save(rebuild(m), tmp_path / 'published.pth')
    result = convert_checkpoint(str(tmp_path / 'published.pth'), str(tmp_path / 'out.pth'),
                                verify=False, log=lambda line: None)
    assert (result.family, result.width, result.form, result.num_classes) == (
        m['family'], m['width'], m['form'], m['num_classes'])
    assert result.num_tensors == len(weights(m))
    config_model(result.config, tmp_path / 'out.pth')  # strict=True


def _fusable(name):
    m = manifest(fixture(name)['manifest'])
    return m['form'] == 'train' and FAMILIES[family_key(m['family'])].deploy_config_name


#: Each fixture as published; one of a re-parameterizable family's training form also fused
#: on conversion (``--deploy``).
LOGITS_CASES = [pytest.param(f, deploy, id=f + ('-fused' if deploy else ''))
                for f in FIXTURES for deploy in (False, True) if not deploy or _fusable(f)]


@pytest.mark.parametrize('name,deploy', LOGITS_CASES)
def test_converted_model_gives_the_reference_logits(tmp_path, name, deploy):
    """The reference model's logits for the seeded weights, reproduced by our config's model
    after conversion (and after fusing on conversion, for a training-form file)."""
    fix = fixture(name)
    m = manifest(fix['manifest'])
    x = fixture_input(fix)
    assert checksum(x) == pytest.approx(fix['input_checksum'], rel=1e-9), \
        "torch's seeded generator changed: run tests/reference_data/make_reference_data.py"
    ckpt = rebuild(m)
    copy = fix['copy'] or None
    chosen = ckpt[copy] if copy else ckpt
    assert checksum({k: chosen[k] for k in weights(m)}) == \
        pytest.approx(fix['weights_checksum'], rel=1e-9), 'the seeded weights changed'
    torch.save(ckpt, tmp_path / 'published.pth')
    result = convert_checkpoint(str(tmp_path / 'published.pth'), str(tmp_path / 'out.pth'),
                                ema=EMA[fix['copy']], deploy=deploy, verify=False,
                                log=lambda line: None)
    assert result.form == ('deploy' if deploy else m['form'])
    model = config_model(result.config, tmp_path / 'out.pth')
    with torch.no_grad():
        ours = model(x, mode='tensor')
    assert_close_rel(ours, torch.tensor(fix['logits']), 1e-5, f'{name} ({fix["model"]})')
