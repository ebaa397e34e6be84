"""Every family and its published models, looked up by key, alias or model name."""
from typing import Dict, List

from .descriptor import Family, PublishedModel, Release
from .ghostnet import GHOSTNET, GHOSTNETV2
from .ghostnetv3 import GHOSTNETV3, GHOSTNETV3_SMALL
from .repghostnet import REPGHOSTNET

__all__ = ['FAMILIES', 'ALIASES', 'THOP_SUFFIXES', 'get_family', 'family_of', 'all_releases',
           'get_release', 'all_models', 'get_model_entry']

#: Every family, by key, in the order the papers appeared (and the docs list them).
FAMILIES: Dict[str, Family] = {
    f.key: f for f in (GHOSTNET, GHOSTNETV2, GHOSTNETV3, REPGHOSTNET, GHOSTNETV3_SMALL)
}

#: Other spellings accepted for a family (``--family v3``).
ALIASES = {
    'v1': 'ghostnet', 'ghostnetv1': 'ghostnet', 'v2': 'ghostnetv2', 'v3': 'ghostnetv3',
    'repghost': 'repghostnet', 'ghostnetv3small': 'ghostnetv3_small',
    'v3small': 'ghostnetv3_small'
}

#: thop's profiling buffers, left in the official GhostNetV2 / V3 files.
THOP_SUFFIXES = ('total_ops', 'total_params')


def get_family(name: str) -> Family:
    """A family by key, alias or backbone name (``'ghostnetv3'``, ``'v3'``,
    ``'mmghost.GhostNetV3'``).

    Raises:
        KeyError: Unknown name (the message lists the keys).
    """
    key = str(name).lower().replace('mmghost.', '').replace('-', '_').strip()
    key = ALIASES.get(key.replace('_', ''), ALIASES.get(key, key))
    for fam in FAMILIES.values():
        if key in (fam.key, fam.backbone.lower()):
            return fam
    raise KeyError(f'unknown family {name!r}; choose one of {list(FAMILIES)}')


def family_of(backbone: str) -> Family:
    """The family of a backbone class name (``'GhostNetV3'``)."""
    for fam in FAMILIES.values():
        if fam.backbone == backbone:
            return fam
    raise KeyError(f'{backbone!r} is not a GhostNet-family backbone')


def all_releases() -> List[Release]:
    """Every published checkpoint of every family."""
    return [r for f in FAMILIES.values() for r in f.releases]


def get_release(name: str) -> Release:
    """A published checkpoint by its model name (``ghostnetv3-1.0x_3rdparty_in1k``)."""
    for r in all_releases():
        if r.name == name:
            return r
    raise KeyError(name)


def all_models() -> Dict[str, PublishedModel]:
    """Every published model name (:meth:`Family.models`), by name."""
    return {m.name: m for f in FAMILIES.values() for m in f.models()}


def get_model_entry(name: str) -> PublishedModel:
    """A published model by name (``ghostnetv3-1.0x_3rdparty-deploy_in1k``).

    Raises:
        KeyError: Unknown name; the message lists the names of the closest family.
    """
    models = all_models()
    if name in models:
        return models[name]
    prefix = name.split('-')[0]
    near = [n for n in models if n.split('-')[0] == prefix] or list(models)
    raise KeyError(f'unknown GhostNet model name {name!r}; the published ones are e.g. '
                   f'{", ".join(near[:6])}' + (' ...' if len(near) > 6 else '') +
                   "; list them all with mmpretrain.list_models('*ghost*') (after "
                   "`import mmghost`), or pass a local checkpoint file")
