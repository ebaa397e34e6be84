"""Check a config's data and neck before training: one clear error instead of a deep crash.

Without it a wrong ``data_root`` fails inside a data-loader worker, an annotation file that is
not COCO JSON fails inside pycocotools with a bare ``KeyError: 'images'``, and a head whose
``num_classes`` disagrees with the dataset either trains silently on the wrong label space or
crashes in the loss; a neck whose ``in_channels`` do not match the backbone fails only at the
first forward (or with a bare ``AssertionError``). :func:`check_data` and :func:`check_neck`
run in ``tools/train.py`` and ``tools/test.py`` (and ``tools/misc/check_config.py``).
"""
import json
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

__all__ = ['check_data', 'check_neck', 'dataset_classes', 'model_num_classes']

COCO_KEYS = ('images', 'annotations', 'categories')
#: Annotation files up to this size are parsed; larger ones (COCO train2017: 448 MB, which
#: mmdet parses anyway, on every rank) are scanned for their top-level keys instead.
FULL_PARSE_BYTES = 64 << 20


def _datasets(cfg) -> Iterator[dict]:
    """The leaf dataset configs of a dataset config (through Repeat/Concat/... wrappers)."""
    if cfg is None:
        return
    if 'datasets' in cfg:
        for sub in cfg['datasets']:
            yield from _datasets(sub)
    elif 'dataset' in cfg:
        yield from _datasets(cfg['dataset'])
    else:
        yield cfg


def _is_remote(path) -> bool:
    return isinstance(path, str) and '://' in path


def _join(root: Optional[str], path: str) -> str:
    if not root or osp.isabs(path) or _is_remote(path):
        return path
    return osp.join(root, path)


def _dataset_class(dataset: dict, scope: Optional[str] = None):
    from mmengine.registry import DATASETS
    name = dataset.get('type')
    if not isinstance(name, str):
        return name if isinstance(name, type) else None
    if '.' not in name and scope:
        name = f'{scope}.{name}'
    try:
        return DATASETS.get(name)
    except Exception:  # unknown scope or type: the Runner reports it when building
        return None


def _scan_coco_json(path: str, where: str) -> None:
    """Cheap check of a large annotation file: a JSON object naming every COCO key."""
    found, tail, first = set(), b'', None
    with open(path, 'rb') as f:
        while len(found) < len(COCO_KEYS):
            chunk = f.read(1 << 20)
            if not chunk:
                break
            if first is None and chunk.strip():
                first = chunk.lstrip()[:1]
                if first != b'{':
                    raise ValueError(f'{where}.ann_file {path!r} is not a JSON object (starts '
                                     f'with {chunk.lstrip()[:20]!r}); expected a COCO '
                                     f'annotation file with keys {list(COCO_KEYS)}')
            window = tail + chunk
            found.update(k for k in COCO_KEYS if f'"{k}"'.encode() in window)
            tail = window[-32:]
    missing = [k for k in COCO_KEYS if k not in found]
    if missing:
        raise ValueError(f'{where}.ann_file {path!r} lacks the COCO key(s) {missing}; '
                         f'expected {list(COCO_KEYS)}')


def _check_coco_json(path: str, where: str) -> None:
    if osp.getsize(path) > FULL_PARSE_BYTES:
        return _scan_coco_json(path, where)
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{where}.ann_file {path!r} is not valid JSON ({e}); expected a COCO '
                         f'annotation file with keys {list(COCO_KEYS)}') from None
    except UnicodeDecodeError:
        raise ValueError(f'{where}.ann_file {path!r} is not a text (JSON) file; expected a '
                         f'COCO annotation file with keys {list(COCO_KEYS)}') from None
    missing = [k for k in COCO_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        found = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise ValueError(f'{where}.ann_file {path!r} lacks the COCO key(s) {missing}: found '
                         f'{found}; expected {list(COCO_KEYS)}')


def dataset_classes(dataset: dict, scope: Optional[str] = None) -> Optional[Tuple[str, ...]]:
    """The class names a dataset config will use, when they can be known without building it.

    ``metainfo.classes`` or ``classes`` of the config, else the dataset class's own
    ``METAINFO`` (e.g. COCO's 80), else the sub-folders of an mmpretrain ``CustomDataset``.
    """
    meta = dataset.get('metainfo') or {}
    classes = meta.get('classes') or dataset.get('classes')
    if isinstance(classes, str):  # a file with one class per line
        return None
    if classes:
        return tuple(classes)
    cls = _dataset_class(dataset, scope)
    if cls is not None and getattr(cls, 'METAINFO', {}).get('classes'):
        return tuple(cls.METAINFO['classes'])
    if cls is not None and cls.__name__ == 'CustomDataset' and not dataset.get('ann_file'):
        prefix = dataset.get('data_prefix', '')
        prefix = prefix.get('img_path', prefix.get('img', '')) if isinstance(prefix, dict) \
            else prefix
        folder = _join(dataset.get('data_root'), prefix or '')
        if osp.isdir(folder):
            subs = sorted(d for d in os.listdir(folder)
                          if osp.isdir(osp.join(folder, d)))
            return tuple(subs) or None
    return None


def model_num_classes(model: dict) -> List[Tuple[str, int]]:
    """``(where, num_classes)`` of every classification output of a classifier/detector."""
    found = []

    def visit(node, where):
        if isinstance(node, dict):
            if isinstance(node.get('num_classes'), int) and where.split('.')[-1] in (
                    'head', 'bbox_head', 'mask_head'):
                found.append((f'{where}.num_classes', node['num_classes']))
            for key in ('head', 'bbox_head', 'mask_head', 'roi_head'):
                if key in node:
                    visit(node[key], f'{where}.{key}')
        elif isinstance(node, (list, tuple)):  # cascade heads
            for i, sub in enumerate(node):
                visit(sub, f'{where}[{i}]')

    visit(model, 'model')
    return found


def check_data(cfg, splits: Sequence[str] = ('train', 'val')) -> None:
    """Check the datasets of ``cfg`` named by ``splits`` (``'train'``, ``'val'``, ``'test'``).

    Raises:
        FileNotFoundError: A data root, annotation file or image folder is missing.
        ValueError: An annotation file is not COCO JSON, or the model's ``num_classes`` is
            not the dataset's number of classes.
    """
    scope = cfg.get('default_scope')
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or not loader.get('dataset'):
            continue
        for i, dataset in enumerate(_datasets(loader['dataset'])):
            where = f'{split}_dataloader.dataset' + (f'[{i}]' if i else '')
            root = dataset.get('data_root')
            if root and not _is_remote(root) and not osp.isdir(root):
                raise FileNotFoundError(
                    f'{where}.data_root {root!r} does not exist (working directory '
                    f'{osp.abspath(".")!r}); expected a folder holding the dataset')
            ann = dataset.get('ann_file')
            if ann:
                path = _join(root, ann)
                if not _is_remote(path):
                    if not osp.isfile(path):
                        raise FileNotFoundError(f'{where}.ann_file {path!r} does not exist')
                    cls = _dataset_class(dataset, scope)
                    if path.endswith('.json') and cls is not None and 'coco' in ' '.join(
                            c.__name__.lower() for c in cls.__mro__):
                        _check_coco_json(path, where)
            prefix = dataset.get('data_prefix')
            folders = prefix.values() if isinstance(prefix, dict) else [prefix]
            for folder in folders:
                if isinstance(folder, str) and folder:
                    path = _join(root, folder)
                    if not _is_remote(path) and not osp.isdir(path):
                        raise FileNotFoundError(f'{where}.data_prefix {path!r} does not exist; '
                                                f'expected the folder of the images')
            classes = dataset_classes(dataset, scope)
            if classes is None:
                continue
            for name, n in model_num_classes(cfg.get('model') or {}):
                if n != len(classes):
                    shown = ', '.join(map(repr, classes[:6])) + (', ...' if len(classes) > 6
                                                                 else '')
                    raise ValueError(
                        f'{name}={n} but {where} has {len(classes)} classes ({shown}); set '
                        f'num_classes={len(classes)} or the dataset\'s metainfo classes')


def _neck_order(neck: dict) -> int:
    """+1 when a neck takes its inputs' channels shallow-to-deep (FPN & co), -1 when
    deepest-first (mmdet's YOLOV3Neck)."""
    return -1 if str(neck.get('type', '')).split('.')[-1] == 'YOLOV3Neck' else 1


#: Necks whose first outputs keep their inputs' strides (so the head's first prior strides must
#: be the backbone's strides at its out_indices).
_LEVEL_PRESERVING_NECKS = ('SSDNeck', 'CSPNeXtPAFPN', 'GhostPAFPN', 'PAFPN')


def _check_strides(model: dict, neck: dict, backbone, name: str) -> None:
    """The head's prior strides of the neck's first levels must be the backbone's strides at
    its out_indices: a mismatch runs, with every anchor or point in the wrong place."""
    if str(neck.get('type', '')).split('.')[-1] not in _LEVEL_PRESERVING_NECKS:
        return
    head = model.get('bbox_head') or {}
    prior = head.get('prior_generator') or head.get('anchor_generator') or {}
    strides = prior.get('strides')
    backbone_strides = getattr(backbone, 'stage_strides', None)
    if not strides or backbone_strides is None:
        return
    taps = [backbone_strides[i] for i in backbone.out_indices]
    first = [s if isinstance(s, (int, float)) else s[0] for s in strides[:len(taps)]]
    if list(first) != taps:
        raise ValueError(
            f'model.backbone ({name}) taps out_indices={tuple(backbone.out_indices)} at '
            f'strides {taps}, but the head\'s {prior.get("type", "prior generator")} places '
            f'its first {len(taps)} levels at strides {list(first)}: every prior would sit in '
            f'the wrong place. Choose out_indices whose stage_strides are {list(first)} (the '
            f'backbone\'s stage_strides are {list(backbone_strides)}), or set the head\'s '
            f'prior strides to {taps}')


def check_neck(cfg) -> None:
    """Refuse a neck that does not fit the backbone it is fed, naming both lists and the fix.

    Applies to backbones that state their stages (``stage_channels``, as every mmghost
    backbone does), built from the config without weights; other backbones are left to
    the model.

    Raises:
        ValueError: The number of backbone outputs (``out_indices``) differs from the neck's
            ``in_channels``, a channel count differs, or (necks that keep their inputs'
            levels: SSDNeck, the PAFPNs) the head's prior strides differ from the backbone's
            strides at ``out_indices``.
    """
    from mmengine.registry import MODELS, DefaultScope
    model = cfg.get('model') or {}
    backbone, neck = model.get('backbone'), model.get('neck')
    if not isinstance(backbone, dict) or not isinstance(neck, dict):
        return
    in_channels = neck.get('in_channels')
    if not isinstance(in_channels, (list, tuple)):
        return
    try:
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or 'mmdet'):
            built = MODELS.build(dict(backbone, init_cfg=None))
    except Exception:  # an unbuildable backbone is reported when the Runner builds it
        return
    stages = getattr(built, 'stage_channels', None)
    indices = getattr(built, 'out_indices', None)
    if stages is None or indices is None:
        return
    order = _neck_order(neck)
    outputs = [stages[i] for i in indices][::order]
    name = f'{type(built).__name__} {getattr(built, "widen_factor", "")}x'.strip()
    if list(in_channels) == outputs:
        _check_strides(model, neck, built, name)
        return
    fix = (f'set model.neck.in_channels={outputs}' + (' (deepest first, as this neck takes '
                                                      'them)' if order < 0 else '') +
           f': the backbone\'s stage_channels at out_indices={tuple(indices)}; its '
           f'stage_channels are {list(stages)} for out_indices 0..{len(stages) - 1}')
    if len(in_channels) != len(outputs):
        raise ValueError(
            f'model.neck ({neck.get("type")}) takes {len(in_channels)} inputs, '
            f'in_channels={list(in_channels)}, but model.backbone ({name}) returns '
            f'{len(outputs)} (out_indices={tuple(indices)}, channels {outputs}); choose '
            f'{len(in_channels)} out_indices, or {fix}')
    raise ValueError(
        f'model.neck.in_channels={list(in_channels)} do not fit model.backbone ({name}, '
        f'out_indices={tuple(indices)}), which outputs {outputs} channels; {fix}')
