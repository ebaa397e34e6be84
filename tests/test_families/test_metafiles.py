"""The metafiles and model-index.yml: OpenMMLab's schema, generated from the descriptors, with
the reference parameter and FLOP counts (tests/helpers.py, independent of mmghost), and the
detection configs' metafile, one entry per config with the model it builds."""
import glob
import os.path as osp

import pytest
import yaml

from helpers import SPEC
from mmghost.families import FAMILIES, all_models
from mmghost.families.tables import DETECTION_METAFILE, metafile, metafile_path, model_index

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def spec_counts(fam, width, deploy):
    train_p, deploy_p, train_m, deploy_m = SPEC[fam.backbone][width]
    return (deploy_p, deploy_m) if deploy else (train_p, train_m)


def test_model_index_imports_one_metafile_per_family_with_releases():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    assert index == model_index()
    assert index['Import'] == [metafile_path(f) for f in FAMILIES.values() if f.releases] + [
        'configs/detection/metafile.yml']


def test_every_entry_is_the_descriptors_with_the_reference_counts():
    names = []
    for fam in FAMILIES.values():
        if not fam.releases:
            continue
        written = yaml.safe_load(open(osp.join(REPO, metafile_path(fam))))
        assert written == metafile(fam, spec_counts), metafile_path(fam)
        for entry in written['Models']:
            names.append(entry['Name'])
            assert osp.isfile(osp.join(REPO, entry['Config'])), entry['Config']
            assert entry['Weights'].startswith('https://')
            assert entry['Name'] == entry['Name'].lower()
            assert entry['Results'][0]['Metrics']['Top 1 Accuracy'] > 60
    assert sorted(names) == sorted(all_models())
    assert len(names) == 44  # 26 published files, 18 of them re-parameterizable


def detection_entries():
    return yaml.safe_load(open(osp.join(REPO, DETECTION_METAFILE)))['Models']


def test_detection_metafile_lists_every_detection_config_once():
    configs = sorted(osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, 'configs', 'detection', '*.py')))
    entries = detection_entries()
    assert [e['Config'] for e in entries] == configs
    assert not set(e['Name'] for e in entries) & set(all_models())
    for e in entries:
        assert e['Name'] == osp.splitext(osp.basename(e['Config']))[0]
        assert 'Weights' not in e and 'Results' not in e  # no COCO weights are published
    light = {e['Name']: e for e in entries if e['In Collection'] in ('SSDLite', 'RTMDet')}
    assert light['ssdlite_ghostv3_320']['Metadata']['Test Size'] == '320x320'
    assert light['rtmdet-tiny_ghostv3-ghostpafpn_416']['Metadata']['Architecture'] == [
        'GhostNetV3', 'GhostPAFPN', 'RTMDetSepBNHead']


@pytest.mark.parametrize('name', ['ssdlite_repghost_320', 'rtmdet-tiny_ghostnet-ghostpafpn_320',
                                  'retinanet_ghostv3_deploy'])
def test_detection_entry_counts_the_model_its_config_builds(name):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmdet.registry import MODELS
    entry = next(e for e in detection_entries() if e['Name'] == name)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(Config.fromfile(osp.join(REPO, entry['Config'])).model)
    assert entry['Metadata']['Parameters'] == sum(p.numel() for p in model.parameters())
    assert [type(model.backbone).__name__, type(model.neck).__name__,
            type(model.bbox_head).__name__] == entry['Metadata']['Architecture']
    assert ('Form' in entry['Metadata']) == bool(getattr(model.backbone, 'deploy', False))


def test_a_detection_config_of_an_unknown_detector_is_refused(tmp_path, monkeypatch):
    import runpy
    tool = runpy.run_path(osp.join(REPO, 'tools', 'misc', 'update_docs.py'))
    monkeypatch.setitem(tool['detection_metafile'].__globals__, 'REPO', str(tmp_path))
    (tmp_path / 'configs' / 'detection').mkdir(parents=True)
    (tmp_path / 'configs' / 'detection' / 'centernet_ghostv3.py').write_text('model = dict()\n')
    with pytest.raises(ValueError, match='centernet_ghostv3.py: no detector collection.*'
                                         'add its prefix to DETECTORS'):
        tool['detection_metafile'](lambda rel: 0)
