"""ImageNet-1k top-1 of a benchmark row, from the facts the model zoos state: the family
descriptors (:mod:`mmghost.families`: the papers' numbers per width, timm's numbers for timm's
GhostNet weights) and, for other OpenMMLab configs, the metafiles of mmpretrain's model zoo
(read through its ``ModelHub``). Nothing here holds a number of its own.
"""
import functools
import os.path as osp
import re
from typing import Dict, Optional, Tuple

from mmghost.families import FAMILIES, fmt_width
from mmghost.models.utils import load_config

__all__ = ['family_top1', 'arch_name', 'zoo_top1', 'lookup_top1']


def family_top1() -> Dict[str, Tuple[float, str]]:
    """``{arch: (top1, source)}`` of the GhostNet families: ``"<Family> <width>x"`` for the
    papers' numbers of every ImageNet family and width, ``"timm:NAME"`` for timm's weights."""
    table: Dict[str, Tuple[float, str]] = {}
    for fam in FAMILIES.values():
        if fam.dataset != 'ImageNet-1k':
            continue
        for width, value in fam.reported_top1.items():
            table[f'{fam.backbone} {fmt_width(width)}'] = value
        for r in fam.releases:
            if r.source == 'timm' and r.top1 is not None:
                table['timm:' + r.publisher_name.split('.')[0]] = (
                    r.top1, f'{r.reported_by}, {r.publisher_name}')
    return table


def arch_name(name: str) -> Optional[str]:
    """A short architecture name of a spec's model (``GhostNetV3 1.0x``, ``MobileNetV3-L``,
    ``timm:ghostnetv3_100``); None for detectors, non-ImageNet heads and unknown models."""
    if name.startswith('timm:'):
        arch = name[len('timm:'):].strip(':')
        if 'timm:' + arch in family_top1():
            return 'timm:' + arch
        for fam in FAMILIES.values():  # ghostnetv3_130 -> GhostNetV3 1.3x
            m = fam.timm_stem and re.fullmatch(rf'{fam.timm_stem}_(\d)(\d+)', arch)
            if m:
                return f'{fam.backbone} {fmt_width(float(m.group(1) + "." + m.group(2)))}'
        return None
    try:
        cfg = load_config(name)
        head, backbone = cfg.model.get('head'), cfg.model.get('backbone')
        if not head or not backbone or head.get('num_classes') != 1000:
            return None  # a 1000-class ImageNet classifier only
        t = str(backbone.get('type', '')).split('.')[-1]
        if t in [f.backbone for f in FAMILIES.values()] + ['MobileNetV2', 'ShuffleNetV2']:
            return f'{t} {fmt_width(backbone.get("widen_factor", 1.0))}'
        if t == 'MobileNetV3':
            return 'MobileNetV3-' + str(backbone.get('arch', 'small'))[0].upper()
        if t == 'MobileOne':
            return f'MobileOne-{str(backbone.get("arch", "")).upper()}'
    except Exception:  # noqa: BLE001  (no name is not an error)
        return None
    return None


def _config_key(path: str) -> str:
    """``mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py`` of a zoo config path or a
    ``PKG::`` name."""
    path = path.split('::')[-1].replace(osp.sep, '/')
    return path.split('configs/')[-1]


@functools.lru_cache(maxsize=None)
def zoo_top1(name: str) -> Optional[Tuple[float, str]]:
    """The best top-1 that mmpretrain's model zoo (its metafiles, and mmghost's, joined to its
    ``ModelHub``) states for a model of this ``mmpretrain::`` config, with the entry's name."""
    if not name.startswith('mmpretrain::'):
        return None
    try:
        from mmpretrain.apis import ModelHub, list_models
    except ImportError:
        return None
    list_models()  # reads the metafiles into the hub (ModelHub.get would load each config)
    key, best = _config_key(name), None
    for model, info in ModelHub._models_dict.items():
        if not isinstance(info.config, str) or _config_key(info.config) != key:
            continue
        for result in info.results or ():
            if result.dataset != 'ImageNet-1k':
                continue
            top1 = (result.metrics or {}).get('Top 1 Accuracy')
            if top1 is not None and (best is None or top1 > best[0]):
                best = (float(top1), f'mmpretrain model zoo, {model}')
    return best


def lookup_top1(label: str, name: str, arch: Optional[str],
                overrides: Optional[Dict[str, float]] = None) -> Tuple[Optional[float], str]:
    """``(top1, source)`` for a row: ``--top1`` overrides (by label or arch name) first, then
    the family descriptors (timm names without their own entry fall back to the paper's
    number for the architecture), then mmpretrain's model zoo; ``(None, '')`` if none."""
    overrides = overrides or {}
    for key in (label, arch):
        if key is not None and key in overrides:
            return overrides[key], 'given with --top1'
    table = family_top1()
    if arch in table:
        value, source = table[arch]
        if label.startswith('timm:') and not arch.startswith('timm:'):
            source += '; the paper\'s number for the architecture'
        return value, source
    return zoo_top1(name) or (None, '')
