"""The README's parameter/MAC table is the spec's: generated numbers, checked here."""
import os.path as osp
import re

from helpers import SPEC

README = osp.join(osp.dirname(__file__), '..', 'README.md')


def test_readme_complexity_table_matches_spec():
    rows = {}
    pattern = re.compile(r'^\| (GhostNet\w*|RepGhostNet) \| ([\d.]+) \| ([\d,]+) \| ([\d,]+|=) \| '
                         r'([\d.]+)M \| ([\d.]+M|=) \|$')
    with open(README) as f:
        for line in f:
            m = pattern.match(line.strip())
            if m:
                rows[(m.group(1), float(m.group(2)))] = m.groups()[2:]
    expected = {(fam, w): v for fam, widths in SPEC.items() for w, v in widths.items()}
    assert set(rows) == set(expected), 'README table rows differ from the spec families/widths'
    for key, (p_train, p_dep, m_train, m_dep) in rows.items():
        sp_train, sp_dep, sm_train, sm_dep = expected[key]
        assert int(p_train.replace(',', '')) == sp_train, key
        assert (p_dep == '=' and sp_dep == sp_train) or int(p_dep.replace(',', '')) == sp_dep, key
        assert abs(float(m_train) - sm_train / 1e6) <= 0.05, key
        assert (m_dep == '=' and sm_dep == sm_train) or \
            abs(float(m_dep.rstrip('M')) - sm_dep / 1e6) <= 0.05, key
