"""Regenerate what is written from the family descriptors: the docs tables (between
``<!-- mmghost:NAME -->`` markers), the metafiles and ``model-index.yml``.

    python tools/misc/update_docs.py [--check]

``--check`` writes nothing and exits 1 if a file is stale. Metafile parameter and FLOP counts
are measured on our classifiers (mmengine's FlopAnalyzer, conv + linear MACs), which takes a
minute; ``--check`` compares only the docs tables and the metafiles' other fields (the tests
compare the counts with the reference numbers).
"""
import argparse
import glob
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADER = ('# Generated from mmghost/families by tools/misc/update_docs.py: edit the descriptors, '
          'not this file.\n')


def doc_files():
    return [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))


def measured_counts():
    """``counts`` for :func:`mmghost.families.tables.metafile`: our classifier, measured."""
    cache = {}

    def counts(fam, width, deploy):
        key = (fam.key, width, deploy)
        if key not in cache:
            from mmghost.analysis import count_complexity
            from mmghost.models.layers import switch_to_deploy
            from mmghost.models.utils import build_classifier
            model = build_classifier(fam.key, width).eval()
            if deploy:
                switch_to_deploy(model)
            r = count_complexity(model, (fam.input_size, fam.input_size))
            cache[key] = (r['params'], r['macs'])
        return cache[key]

    return counts


def written_counts(fam, width, deploy, _cache={}):
    """The counts a committed metafile holds (``--check`` compares everything else)."""
    import yaml
    from mmghost.families.tables import metafile_path
    path = osp.join(REPO, metafile_path(fam))
    if path not in _cache:
        _cache[path] = yaml.safe_load(open(path)) if osp.isfile(path) else {'Models': []}
    name_of = {(m.release.width, m.deploy): m.name for m in fam.models()}
    for entry in _cache[path]['Models'] or []:
        if entry['Name'] == name_of.get((width, deploy)):
            return entry['Metadata']['Parameters'], entry['Metadata']['FLOPs']
    return None, None


def generated_files(counts):
    """``{path: text}`` of the metafiles and the model index."""
    import yaml
    from mmghost.families import FAMILIES
    from mmghost.families.tables import metafile, metafile_path, model_index
    files = {}
    for fam in FAMILIES.values():
        if fam.releases:
            files[metafile_path(fam)] = HEADER + yaml.safe_dump(
                metafile(fam, counts), sort_keys=False, width=100, allow_unicode=True)
    files['model-index.yml'] = HEADER + yaml.safe_dump(model_index(), sort_keys=False)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='report stale files, write none')
    args = parser.parse_args(argv)
    from mmghost.families.tables import fill_tables
    updates = {}
    for path in doc_files():
        text = open(path, encoding='utf-8').read()
        updates[osp.relpath(path, REPO)] = (text, fill_tables(text))
    for rel, text in generated_files(written_counts if args.check else measured_counts()).items():
        path = osp.join(REPO, rel)
        old = open(path, encoding='utf-8').read() if osp.isfile(path) else None
        updates[rel] = (old, text)
    stale = [rel for rel, (old, new) in updates.items() if old != new]
    if not args.check:
        for rel in stale:
            with open(osp.join(REPO, rel), 'w', encoding='utf-8') as f:
                f.write(updates[rel][1])
    verb = 'stale' if args.check else 'updated'
    print(f'{verb}: {", ".join(stale)}' if stale else 'generated files are current')
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
