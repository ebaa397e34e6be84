"""Regenerate what is written from the family descriptors and the configs: the docs tables
(between ``<!-- mmghost:NAME -->`` markers), the metafiles and ``model-index.yml``.

    python tools/misc/update_docs.py [--check]

``--check`` writes nothing and exits 1 if a file is stale. Metafile parameter and FLOP counts
are measured on our classifiers (mmengine's FlopAnalyzer, conv + linear MACs), which takes a
minute; ``--check`` compares only the docs tables and the metafiles' other fields (the tests
compare the counts with the reference numbers). ``configs/detection/metafile.yml`` lists every
detection config (no COCO weights are published for them, so its entries have no ``Weights``
or ``Results``), with its architecture, schedule, test size and measured parameters.
"""
import argparse
import glob
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADER = ('# Generated from mmghost/families by tools/misc/update_docs.py: edit the descriptors, '
          'not this file.\n')
DETECTION_HEADER = ('# Generated from configs/detection/*.py by tools/misc/update_docs.py: '
                    'edit the configs, not this file.\n')


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


#: One collection per detector: config-name prefix -> (collection, paper URL, paper title).
DETECTORS = {
    'faster-rcnn': ('Faster R-CNN', 'https://arxiv.org/abs/1506.01497',
                    'Faster R-CNN: Towards Real-Time Object Detection with Region Proposal '
                    'Networks'),
    'mask-rcnn': ('Mask R-CNN', 'https://arxiv.org/abs/1703.06870', 'Mask R-CNN'),
    'retinanet': ('RetinaNet', 'https://arxiv.org/abs/1708.02002',
                  'Focal Loss for Dense Object Detection'),
    'rtmdet-ins-tiny': ('RTMDet-Ins', 'https://arxiv.org/abs/2212.07784',
                        'RTMDet: An Empirical Study of Designing Real-Time Object Detectors'),
    'rtmdet-tiny': ('RTMDet', 'https://arxiv.org/abs/2212.07784',
                    'RTMDet: An Empirical Study of Designing Real-Time Object Detectors'),
    'ssdlite': ('SSDLite', 'https://arxiv.org/abs/1801.04381',
                'MobileNetV2: Inverted Residuals and Linear Bottlenecks'),
    'yolov3': ('YOLOv3', 'https://arxiv.org/abs/1804.02767', 'YOLOv3: An Incremental Improvement'),
}
LIGHT = ('ssdlite', 'rtmdet-tiny', 'rtmdet-ins-tiny')


def detection_configs():
    """Every detection config (``configs/detection/*.py``; the demo ones are recipes for the
    demo set, not models), relative to the repository."""
    pattern = osp.join(REPO, 'configs', 'detection', '*.py')
    return sorted(osp.relpath(p, REPO) for p in glob.glob(pattern))


def measured_detector_params(rel):
    """Parameters of the detector ``rel`` builds (the deploy configs: fused)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(Config.fromfile(osp.join(REPO, rel)).model)
    return sum(p.numel() for p in model.parameters())


def written_detector_params(rel, _cache={}):
    import yaml
    from mmghost.families.tables import DETECTION_METAFILE
    path = osp.join(REPO, DETECTION_METAFILE)
    if not _cache:
        written = yaml.safe_load(open(path)) if osp.isfile(path) else {'Models': []}
        _cache.update({m['Config']: m['Metadata'].get('Parameters')
                       for m in written['Models'] or []})
    return _cache.get(rel)


def _type(cfg):
    cfg = cfg[0] if isinstance(cfg, list) else cfg
    return cfg['type'].split('.')[-1]


def detection_metafile(params):
    """``configs/detection/metafile.yml``: one model per detection config, ``params(rel)``
    its parameter count."""
    from mmengine.config import Config
    models, used = [], set()
    for rel in detection_configs():
        name = osp.splitext(osp.basename(rel))[0]
        prefix = next((p for p in sorted(DETECTORS, key=len, reverse=True)
                       if name.startswith(p + '_')), None)
        if prefix is None:
            raise ValueError(f'{rel}: no detector collection for this config name; add its '
                             f'prefix to DETECTORS in tools/misc/update_docs.py')
        used.add(prefix)
        cfg = Config.fromfile(osp.join(REPO, rel))
        m = cfg.model
        head = m.get('bbox_head') or m['roi_head']['bbox_head']
        arch = [_type(m['backbone'])] + ([_type(m['neck'])] if m.get('neck') else []) + \
            [_type(head)]
        sizes = [t.get('scale') or t.get('img_scale') for t in cfg.test_pipeline
                 if t['type'] == 'Resize']
        init = m['backbone'].get('init_cfg') or {}
        meta = {'Training Data': 'COCO', 'Epochs': cfg.train_cfg['max_epochs'],
                'Test Size': 'x'.join(map(str, sizes[0])), 'Architecture': arch,
                'Parameters': params(rel)}
        if m['backbone'].get('deploy'):
            meta['Form'] = 'deploy (re-parameterized backbone)'
        if str(init.get('checkpoint', '')).startswith('mmghost://'):
            meta['Backbone Weights'] = init['checkpoint'][len('mmghost://'):]
        models.append({'Name': name, 'In Collection': DETECTORS[prefix][0], 'Config': rel,
                       'Metadata': meta})
    collections = [{
        'Name': DETECTORS[p][0],
        'Metadata': {'Training Data': 'COCO'},
        'Paper': {'URL': DETECTORS[p][1], 'Title': DETECTORS[p][2]},
        'README': 'docs/light_detection.md' if p in LIGHT else 'docs/training.md',
    } for p in sorted(used)]
    return {'Collections': collections, 'Models': models}


def generated_files(counts, detector_params):
    """``{path: text}`` of the metafiles and the model index."""
    import yaml
    from mmghost.families import FAMILIES
    from mmghost.families.tables import DETECTION_METAFILE, metafile, metafile_path, model_index
    files = {}
    for fam in FAMILIES.values():
        if fam.releases:
            files[metafile_path(fam)] = HEADER + yaml.safe_dump(
                metafile(fam, counts), sort_keys=False, width=100, allow_unicode=True)
    files[DETECTION_METAFILE] = DETECTION_HEADER + \
        yaml.safe_dump(detection_metafile(detector_params), sort_keys=False, width=100)
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
    for rel, text in generated_files(
            *((written_counts, written_detector_params) if args.check else
              (measured_counts(), measured_detector_params))).items():
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
