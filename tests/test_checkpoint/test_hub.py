"""mmghost.checkpoint.hub: published checkpoints by name or URL, converted on the fly.

Nothing can be downloaded here, so the published files are rebuilt in their layouts from
random timm weights and served by a loopback HTTP server standing in for the publishers
(``MMGHOST_CHECKPOINT_MIRROR``); torch's hub cache is a temporary folder.
"""
import copy
import dataclasses
import os
import os.path as osp

import pytest
import torch

from helpers import assert_close_rel, timm_model
from loopback import serve
from mmghost.checkpoint import CheckpointError, convert_checkpoint, hub
from mmghost.families import PublishedModel, get_model_entry
from mmghost.models.utils import build_classifier

timm = pytest.importorskip('timm')

REP = 'repghostnet-0.5x_3rdparty_in1k'
V3 = 'ghostnetv3-1.0x_3rdparty_in1k'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def mirror_path(root, url):
    path = osp.join(str(root), url.split('://', 1)[1])
    os.makedirs(osp.dirname(path), exist_ok=True)
    return path


def publish(root, name, obj):
    torch.save(obj, mirror_path(root, get_model_entry(name).release.url))


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """The published files of RepGhostNet 0.5x (a flat state dict) and GhostNetV3 1.0x (the
    official wrapper: plain and EMA copies, ``.bn.`` in the branches), plus files that are not
    what their URL says."""
    root = tmp_path_factory.mktemp('mirror')
    rep = timm_model(timm, 'repghostnet_050', seed=1)
    publish(root, REP, rep.state_dict())
    plain = timm_model(timm, 'ghostnetv3_100', seed=2)
    ema = timm_model(timm, 'ghostnetv3_100', seed=3)

    def official(m):
        return {k.replace('.bn1.', '.bn.') if '_rpr_' in k else k: v
                for k, v in m.state_dict().items()}

    publish(root, V3, {'state_dict': official(plain), 'state_dict_ema': official(ema)})
    # RepGhostNet 1.0x's URL serves a GhostNet V1 file; GhostNetV2 1.3x's serves garbage.
    publish(root, 'repghostnet-1.0x_3rdparty_in1k', timm_model(timm, 'ghostnet_050').state_dict())
    with open(mirror_path(root, get_model_entry('ghostnetv2-1.3x_3rdparty_in1k').release.url),
              'wb') as f:
        f.write(b'not a checkpoint' * 1000)
    return dict(root=root, rep=rep, v3_ema=ema)


@pytest.fixture
def mirror(published, monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    with serve(published['root']) as (url, requests):
        monkeypatch.setenv(hub.MIRROR_ENV, url)
        yield dict(url=url, requests=requests, cache=tmp_path / 'torch' / 'hub' / 'checkpoints')


def logits(model, x):
    with torch.no_grad():
        return model.eval()(x, mode='tensor')


def cached_files(cache):
    return sorted(osp.relpath(osp.join(d, f), cache) for d, _, fs in os.walk(cache) for f in fs)


def test_name_and_url_load_converted_and_the_second_load_is_cached(
        mirror, published, tmp_path, monkeypatch):
    from mmengine.runner import load_checkpoint
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    model = build_classifier('repghostnet', 0.5)
    load_checkpoint(model, 'mmghost://' + REP, map_location='cpu', strict=True)
    # The converter's output of the same file gives the same logits (and timm's).
    src = mirror_path(published['root'], get_model_entry(REP).release.url)
    convert_checkpoint(src, str(tmp_path / 'ref.pth'), verify=False, log=lambda m: None)
    ref = build_classifier('repghostnet', 0.5)
    load_checkpoint(ref, str(tmp_path / 'ref.pth'), map_location='cpu', strict=True)
    assert torch.equal(logits(model, x), logits(ref, x))
    assert_close_rel(logits(model, x), published['rep'].eval()(x), 1e-5)
    assert len(mirror['requests']) == 1
    files = cached_files(mirror['cache'])
    digest = hub._sha256(str(mirror['cache'] / 'repghostnet_0_5x_43M_66.95.pth.tar'))
    assert files == ['mmghost/' + REP + '_' + digest + '.pth',
                     'repghostnet_0_5x_43M_66.95.pth.tar',
                     'repghostnet_0_5x_43M_66.95.pth.tar.sha256']  # recorded at download
    assert (mirror['cache'] / files[2]).read_text() == digest

    # Second load, by name and by the published URL: no request, no conversion.
    import mmghost.checkpoint.convert as convert
    monkeypatch.setattr(convert, 'convert_checkpoint', lambda *a, **k: pytest.fail('converted'))
    again = build_classifier('repghostnet', 0.5)
    load_checkpoint(again, get_model_entry(REP).release.url, map_location='cpu', strict=True)
    assert torch.equal(logits(again, x), logits(ref, x))
    assert len(mirror['requests']) == 1 and cached_files(mirror['cache']) == files


def test_deploy_name_loads_the_fused_form(mirror, published):
    from mmengine.runner import load_checkpoint
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    fused = build_classifier('repghostnet', 0.5, deploy=True)
    load_checkpoint(fused, 'mmghost://repghostnet-0.5x_3rdparty-deploy_in1k', strict=True)
    assert_close_rel(logits(fused, x), published['rep'].eval()(x), 1e-4)
    assert len(mirror['requests']) == 1  # the same published file


def test_detector_config_loads_every_backbone_key_from_the_published_name(
        mirror, published, monkeypatch):
    """configs/detection/retinanet_ghostv3.py as it is: its backbone's Pretrained init reads
    mmghost://ghostnetv3-1.0x_3rdparty_in1k (the EMA copy), every key, nothing else logged."""
    import mmengine.runner.checkpoint as ckpt_module
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', 'retinanet_ghostv3.py'))
    assert cfg.model.backbone.init_cfg.checkpoint == 'mmghost://' + V3
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    logged = []
    monkeypatch.setattr(ckpt_module, 'print_log', lambda msg, *a, **k: logged.append(str(msg)))
    detector.backbone.init_weights()
    assert not [m for m in logged if 'missing' in m or 'unexpected' in m], logged
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got = detector.backbone.eval()(x)[-1]
    assert_close_rel(got, published['v3_ema'].eval().forward_features(x), 1e-5)


def test_the_cache_heals_a_damaged_converted_file_and_a_changed_download(mirror):
    from mmengine.runner import load_checkpoint
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    def load():
        model = build_classifier('repghostnet', 0.5)
        load_checkpoint(model, 'mmghost://' + REP, map_location='cpu', strict=True)
        return logits(model, x)

    ref = load()
    converted = next(mirror['cache'] / f for f in cached_files(mirror['cache'])
                     if f.startswith('mmghost/'))
    data = converted.read_bytes()
    converted.write_bytes(data[:len(data) // 2])  # a damaged converted file
    with pytest.warns(UserWarning, match='does not load .*converting the published file again'):
        assert torch.equal(load(), ref)
    assert len(mirror['requests']) == 1  # converted again from the cached download
    src = mirror['cache'] / 'repghostnet_0_5x_43M_66.95.pth.tar'
    damaged = bytearray(src.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # the cached download changed since it was fetched
    src.write_bytes(bytes(damaged))
    with pytest.warns(UserWarning, match='changed since it was downloaded .*fetching it again'):
        assert torch.equal(load(), ref)
    assert len(mirror['requests']) == 2
    assert hub._sha256(str(src)) == (mirror['cache'] / (src.name + '.sha256')).read_text()


def test_a_v3_deploy_name_verifies_its_fusion_in_float64(mirror, published):
    """A deploy-form name from the official file with random BN statistics loads, and in
    float64 its logits equal timm's unfused model's to the float32 rounding of the stored
    fused weights. (The float32 check that once failed here at 2.8e-4 did not fail on this
    machine; the float64 fusion itself is checked in test_convert's --deploy test.)"""
    from mmengine.runner import load_checkpoint
    fused = build_classifier('ghostnetv3', 1.0, deploy=True)
    load_checkpoint(fused, 'mmghost://ghostnetv3-1.0x_3rdparty-deploy_in1k', strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        got = copy.deepcopy(fused).double().eval()(x, mode='tensor')
        ref = copy.deepcopy(published['v3_ema']).double().eval()(x)
    assert_close_rel(got, ref, 1e-5)


def _bad(mirror, path, match):
    with pytest.raises(CheckpointError, match=match) as e:
        hub.load_published(hub.resolve(path))
    left = [f for f in cached_files(mirror['cache']) if not f.startswith('mmghost/')]
    assert not [f for f in left if f.endswith(('.part', '.tmp'))], left
    return str(e.value), left


def test_unknown_name(mirror):
    with pytest.raises(CheckpointError, match=r"unknown GhostNet model name 'ghostnetv9-1.0x'.*"
                       r"list_models\('\*ghost\*'\)"):
        hub.resolve('mmghost://ghostnetv9-1.0x')


def test_no_network(mirror, monkeypatch):
    monkeypatch.setenv(hub.MIRROR_ENV, 'http://127.0.0.1:9')
    msg, left = _bad(mirror, 'mmghost://' + REP, 'downloading .* failed')
    assert REP in msg and get_model_entry(REP).release.url in msg and 'local path' in msg
    assert left == []


def test_404(mirror):
    msg, left = _bad(mirror, 'mmghost://ghostnetv2-1.6x_3rdparty_in1k', '404')
    assert 'ghostnetv2-1.6x_3rdparty_in1k' in msg and left == []


def test_truncated_download(mirror, monkeypatch):
    monkeypatch.setenv(hub.MIRROR_ENV, mirror['url'] + '/truncated')
    msg, left = _bad(mirror, 'mmghost://' + REP, 'truncated')
    assert left == []


def test_corrupted_file_is_refused_and_removed(mirror):
    msg, left = _bad(mirror, 'mmghost://ghostnetv2-1.3x_3rdparty_in1k', 'not what the name says')
    assert 'corrupt or truncated' in msg and left == []


def test_another_family_than_the_name_says(mirror):
    msg, left = _bad(mirror, 'mmghost://repghostnet-1.0x_3rdparty_in1k',
                     'not what the name says')
    assert 'GhostNet 0.5x' in msg and left == []


def test_sha256_that_differs_from_the_published_one(mirror):
    entry = get_model_entry(REP)
    stated = dataclasses.replace(entry.release, sha256='0' * 64)
    with pytest.raises(CheckpointError,
                       match='SHA-256 is [0-9a-f]{64}, the publisher states 0{64}'):
        hub.download(PublishedModel(entry.name, entry.family, stated))
    assert cached_files(mirror['cache']) == []


def test_other_urls_keep_mmengine_loader(mirror, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    called = []
    monkeypatch.setattr(hub, '_http_fallback', lambda f, m=None, *a, **k: called.append(f) or {})
    CheckpointLoader.load_checkpoint('https://example.com/resnet.pth', map_location='cpu')
    assert called == ['https://example.com/resnet.pth']
    CheckpointLoader.load_checkpoint(get_model_entry(REP).release.url, map_location='cpu')
    assert called == ['https://example.com/resnet.pth'] and len(mirror['requests']) == 1


def test_mmpretrain_knows_the_published_models_by_name(mirror, published):
    import numpy as np
    from mmpretrain import ImageClassificationInferencer, get_model, inference_model, list_models

    from mmghost.families import all_models
    assert set(all_models()) <= set(list_models('*ghost*'))
    assert 'repghostnet-0.5x_3rdparty-deploy_in1k' in list_models('repghost*deploy*')
    # model-index.yml also imports the detection configs (for mim search); mmpretrain gets none
    assert not list_models('*ghostpafpn*') and not list_models('ssdlite_ghost*')
    model = get_model(REP, pretrained=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert_close_rel(logits(model, x), published['rep'].eval()(x), 1e-5)
    image = np.random.default_rng(0).integers(0, 255, (80, 96, 3), dtype=np.uint8)
    result = inference_model(model, image)
    assert result['pred_class'] == model._dataset_meta['classes'][result['pred_label']]
    assert len(model._dataset_meta['classes']) == 1000  # ImageNet's
    again = ImageClassificationInferencer(REP)(image)[0]
    assert again['pred_label'] == result['pred_label']
    fused = get_model('repghostnet-0.5x_3rdparty-deploy_in1k', pretrained=True)
    assert fused.backbone.deploy
    assert_close_rel(logits(fused, x), logits(model, x), 1e-4)
    assert len(mirror['requests']) == 1  # one download served all four loads
