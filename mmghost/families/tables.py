"""The families as documents: markdown tables for the docs, and OpenMMLab metafiles.

The docs hold the tables between ``<!-- mmghost:NAME -->`` and ``<!-- /mmghost:NAME -->``
markers, and ``configs/classification/<family>/metafile.yml`` the metafiles (imported by
``model-index.yml`` with the detection configs' metafile); ``python
tools/misc/update_docs.py`` rewrites both, and the tests check they are current.
"""
import re
from typing import Callable, Dict, List, Tuple

from .catalogue import FAMILIES
from .descriptor import Family

__all__ = ['model_table', 'release_table', 'stage_table', 'TABLES', 'fill_tables', 'metafile',
           'metafile_path', 'model_index', 'classification_metafiles', 'DETECTION_METAFILE']

#: ``counts(family, width, deploy) -> (parameters, MACs)`` of our classifier at that width.
Counts = Callable[[Family, float, bool], Tuple[int, int]]

_ARCHITECTURE = {
    'ghostnet': ['Ghost Module', 'Squeeze-and-Excitation'],
    'ghostnetv2': ['Ghost Module', 'DFC Attention', 'Squeeze-and-Excitation'],
    'ghostnetv3': ['Ghost Module', 'DFC Attention', 'Re-parameterization',
                   'Squeeze-and-Excitation'],
    'repghostnet': ['RepGhost Module', 'Re-parameterization', 'Squeeze-and-Excitation'],
    'ghostnetv3_small': ['Ghost Module', 'DFC Attention', 'Re-parameterization',
                         'Squeeze-and-Excitation'],
}


def _width(w: float) -> str:
    return f'{w:g}×'


def model_table() -> str:
    """One row per family: registry name, paper, re-parameterizable, widths, checkpoints."""
    lines = ['| registry name | paper | re-parameterizable | widths | published checkpoints |',
             '|---|---|---|---|---|']
    for fam in FAMILIES.values():
        released = sorted({r.width for r in fam.releases})
        ckpts = (f'{len(fam.releases)} ({", ".join(_width(w) for w in released)})'
                 if fam.releases else 'none')
        lines.append(f'| `mmghost.{fam.backbone}` | [{fam.title.split(":")[0]}]({fam.paper}), '
                     f'{fam.venue} | {"yes" if fam.reparam else "–"} | '
                     f'{", ".join(_width(w) for w in fam.widths)} | {ckpts} |')
    return '\n'.join(lines)


def release_table() -> str:
    """One row per published checkpoint: our name, publisher, form, reported top-1, URL."""
    lines = ['| model name | width | published by | file / timm name | ImageNet top-1 / top-5 '
             '(reported by) |', '|---|---|---|---|---|']
    for fam in FAMILIES.values():
        for r in fam.releases:
            acc = f'{r.top1:g}' + (f' / {r.top5:g}' if r.top5 is not None else '')
            who = 'the authors' if r.source == 'official' else 'timm'
            copy = f', `{r.weights_copy}`' if r.weights_copy else ''
            lines.append(f'| `{r.name}` | {_width(r.width)} | {who} | '
                         f'[{r.publisher_name}]({r.url}){copy} | {acc} ({r.reported_by}) |')
    return '\n'.join(lines)


def _stage_rows(families, input_size: int) -> str:
    """One stride row and one channels row per width of ``families``, which must share their
    stage table (and stem stride)."""
    first = families[0]
    widths = sorted({w for f in families for w in f.widths})
    for f in families[1:]:
        assert f.stage_strides() == first.stage_strides() and all(
            f.stage_channels(w) == first.stage_channels(w) for w in widths), f.key
    strides = first.stage_strides()
    n = len(strides)
    lines = [f'{" / ".join(f.backbone for f in families)} ({input_size}×{input_size} input'
             + (', channels shared' if len(families) > 1 else '') + '):', '',
             '| index | ' + ' | '.join(str(i) for i in range(n)) + ' |',
             '|---' * (n + 1) + '|', '| stride | ' + ' | '.join(map(str, strides)) + ' |']
    for w in widths:
        only = [f.backbone for f in families if w in f.widths]
        note = f' ({", ".join(only)})' if len(only) < len(families) else ''
        lines.append(f'| channels {_width(w)}{note} | ' +
                     ' | '.join(map(str, first.stage_channels(w))) + ' |')
    return '\n'.join(lines)


def stage_table() -> str:
    """Stride and channels of every stage (``out_indices``) at every width of every family,
    one table per stage layout (the four ImageNet families share one)."""
    groups: Dict[Tuple, list] = {}
    for fam in FAMILIES.values():
        key = (fam.stage_strides(), fam.stage_channels(1.0), fam.input_size)
        groups.setdefault(key, []).append(fam)
    return '\n\n'.join(_stage_rows(fams, fams[0].input_size) for fams in groups.values())


TABLES: Dict[str, Callable[[], str]] = {'models': model_table, 'releases': release_table,
                                        'stages': stage_table}


def fill_tables(text: str) -> str:
    """``text`` with every marked table section replaced by its current content."""
    for name, make in TABLES.items():
        pattern = re.compile(rf'(<!-- mmghost:{name} -->\n)(?:.*?\n)?(<!-- /mmghost:{name} -->)',
                             re.S)
        text = pattern.sub(lambda m: m.group(1) + make() + '\n' + m.group(2), text)
    return text


def metafile_path(fam: Family) -> str:
    """The family's metafile, relative to the repository (and to ``mmghost/.mim``)."""
    return f'configs/classification/{fam.config_dir}/metafile.yml'


def metafile(fam: Family, counts: Counts) -> dict:
    """The family's metafile (OpenMMLab's schema): its collection and one model per published
    model name (:meth:`Family.models`), each with our config, the published file as
    ``Weights`` and ``Converted From``, and the publisher's top-1 as its result."""
    models = []
    for m in fam.models():
        r = m.release
        params, flops = counts(fam, r.width, m.deploy)
        metrics = {'Top 1 Accuracy': r.top1}
        if r.top5 is not None:
            metrics['Top 5 Accuracy'] = r.top5
        words = {'train': 'training', 'deploy': 'deploy'}
        form = (f'deploy (re-parameterized) form, fused on load from the published '
                f'{words[r.form]}-form {r.publisher_name}' if m.deploy else
                f'{words[r.form]} form: the published {r.publisher_name}, converted on load')
        models.append({
            'Name': m.name,
            'In Collection': fam.backbone,
            'Metadata': {'FLOPs': flops, 'Parameters': params, 'Training Data': fam.dataset},
            'Results': [{'Task': 'Image Classification', 'Dataset': fam.dataset,
                         'Metrics': metrics}],
            'Weights': r.url,
            'Config': 'configs/' + m.config,
            'Converted From': {'Weights': r.url, 'Code': fam.code},
            'Reported By': f'{r.reported_by} ({"the authors" if r.source == "official" else "timm"}'
                           f'; not measured by mmghost)',
            'Form': form,
        })
    return {
        'Collections': [{
            'Name': fam.backbone,
            'Metadata': {'Training Data': fam.dataset, 'Architecture': _ARCHITECTURE[fam.key]},
            'Paper': {'URL': fam.paper, 'Title': fam.title},
            'README': 'docs/model_zoo.md',
        }],
        'Models': models,
    }


#: The detection configs' metafile (tools/misc/update_docs.py writes it from the configs).
DETECTION_METAFILE = 'configs/detection/metafile.yml'


def classification_metafiles() -> List[str]:
    """The metafile of every family with published models."""
    return [metafile_path(f) for f in FAMILIES.values() if f.releases]


def model_index() -> dict:
    """``model-index.yml``: the families' metafiles (published ImageNet models, with weights),
    then the detection configs' (no weights)."""
    return {'Import': classification_metafiles() + [DETECTION_METAFILE]}
