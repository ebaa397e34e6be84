"""The metafiles and model-index.yml: OpenMMLab's schema, generated from the descriptors, with
the reference parameter and FLOP counts (tests/helpers.py, independent of mmghost)."""
import os.path as osp

import yaml

from helpers import SPEC
from mmghost.families import FAMILIES, all_models
from mmghost.families.tables import metafile, metafile_path, model_index

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def spec_counts(fam, width, deploy):
    train_p, deploy_p, train_m, deploy_m = SPEC[fam.backbone][width]
    return (deploy_p, deploy_m) if deploy else (train_p, train_m)


def test_model_index_imports_one_metafile_per_family_with_releases():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    assert index == model_index()
    assert index['Import'] == [metafile_path(f) for f in FAMILIES.values() if f.releases]


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
