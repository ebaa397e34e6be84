"""Reading the manifests and logits fixtures, and rebuilding a published file from a manifest."""
import argparse
import glob
import json
import os.path as osp

from .weights import seeded_input, seeded_state_dict

__all__ = ['MANIFESTS', 'FIXTURES', 'manifest', 'fixture', 'rebuild', 'fixture_input']

HERE = osp.dirname(osp.abspath(__file__))
#: Values for a training wrapper's other entries, by the type the manifest records.
EXTRA_VALUES = {
    'int': lambda: 0, 'float': lambda: 0.0, 'str': lambda: 'reference',
    'argparse.Namespace': lambda: argparse.Namespace(model='reference'),
    'dict': lambda: {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]}}


def _names(folder):
    return sorted(osp.basename(p)[:-len('.json')]
                  for p in glob.glob(osp.join(HERE, folder, '*.json')))


MANIFESTS = _names('manifests')
FIXTURES = _names('logits')


def manifest(name: str) -> dict:
    with open(osp.join(HERE, 'manifests', name + '.json')) as f:
        return json.load(f)


def fixture(name: str) -> dict:
    with open(osp.join(HERE, 'logits', name + '.json')) as f:
        return json.load(f)


def fixture_input(fix: dict):
    return seeded_input(fix['input_shape'], fix['input_seed'])


def rebuild(m: dict):
    """The checkpoint object of a manifest: flat, or a wrapper with a seeded copy each."""
    if m['copies'] is None:
        return seeded_state_dict(m['tensors'])
    ckpt = {copy: seeded_state_dict(m['tensors'], copy) for copy in m['copies']}
    for key, type_name in m['extras'].items():
        assert type_name in EXTRA_VALUES, f'{m["name"]}: give EXTRA_VALUES a {type_name}'
        ckpt[key] = EXTRA_VALUES[type_name]()
    return ckpt
