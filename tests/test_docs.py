"""The docs stay true: the parameter/MAC table equals the reference counts, the generated
tables equal the family descriptors, every relative link points at a file, and no placeholder
is left unfilled."""
import glob
import os.path as osp
import re
import runpy

import pytest
from helpers import SPEC

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))


def test_complexity_table_matches_the_reference_counts():
    rows = {}
    pattern = re.compile(r'^\| (GhostNet\w*|RepGhostNet) \| ([\d.]+) \| ([\d,]+) \| ([\d,]+|=) \| '
                         r'([\d.]+)M \| ([\d.]+M|=) \|$')
    with open(osp.join(REPO, 'docs', 'backbones.md')) as f:
        for line in f:
            m = pattern.match(line.strip())
            if m:
                rows[(m.group(1), float(m.group(2)))] = m.groups()[2:]
    expected = {(fam, w): v for fam, widths in SPEC.items() for w, v in widths.items()}
    assert set(rows) == set(expected), 'table rows differ from the reference families/widths'
    for key, (p_train, p_dep, m_train, m_dep) in rows.items():
        sp_train, sp_dep, sm_train, sm_dep = expected[key]
        assert int(p_train.replace(',', '')) == sp_train, key
        assert (p_dep == '=' and sp_dep == sp_train) or int(p_dep.replace(',', '')) == sp_dep, key
        assert abs(float(m_train) - sm_train / 1e6) <= 0.05, key
        assert (m_dep == '=' and sm_dep == sm_train) or \
            abs(float(m_dep.rstrip('M')) - sm_dep / 1e6) <= 0.05, key


def test_generated_tables_are_current():
    main = runpy.run_path(osp.join(REPO, 'tools', 'misc', 'update_docs.py'))['main']
    assert main(['--check']) == 0, 'run python tools/misc/update_docs.py'
    from mmghost.families import all_releases
    zoo = open(osp.join(REPO, 'docs', 'model_zoo.md')).read()
    assert all(f'`{r.name}`' in zoo and r.url in zoo for r in all_releases())


def test_readme_is_a_front_door():
    text = open(osp.join(REPO, 'README.md')).read()
    assert len(text.splitlines()) <= 200
    first = [ln for ln in text.splitlines() if ln.startswith('bash ')][:2]
    assert first[0].startswith('bash tools/run_main_job.sh')
    assert first[1].startswith('bash tools/run_tests.sh')


@pytest.mark.parametrize('path', DOCS, ids=lambda p: osp.relpath(p, REPO))
def test_links_and_no_outside_references(path):
    text = open(path).read()
    assert '../shared' not in text and 'shared/spec' not in text
    assert not re.findall(r'\{\{[A-Z0-9_]+\}\}', text), 'a placeholder was never filled in'
    for target in re.findall(r'\]\(([^)#]+)(?:#[^)]*)?\)', text):
        if '://' in target:
            continue
        assert osp.exists(osp.join(osp.dirname(path), target)), f'{path}: broken link {target}'
