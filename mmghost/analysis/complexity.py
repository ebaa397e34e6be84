"""Parameters and MACs: of any model, of a part of it (the benchmark's rows), of a config's
model, and of every family and width."""
import copy
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmghost.families import FAMILIES, get_family
from mmghost.models.layers import switch_to_deploy
from mmghost.models.utils import (TensorModeWrapper, build_classifier, build_from_config,
                                  default_scope, load_config, seeded_input)

__all__ = ['count_complexity', 'part_complexity', 'model_complexity', 'config_complexity',
           'family_complexity']


def count_complexity(model: nn.Module, shape: Tuple[int, int] = (224, 224),
                     modules: Sequence[str] = (), part: str = 'model') -> Dict[str, int]:
    """Params and MACs of ``model`` on one ``3 x H x W`` input, with mmengine's FlopAnalyzer.

    Returns ``params``, ``macs`` (conv + linear multiply-accumulates: the papers' "FLOPs") and
    ``total`` (FlopAnalyzer's total, which also counts BN, pooling, upsampling, ...).
    ``modules`` (sub-module names of ``model``, e.g. ``('backbone', )``) adds
    ``module_macs``: their conv + linear MACs in the same trace. ``part='backbone'`` counts
    only the backbone (:class:`~mmghost.models.utils.TensorModeWrapper`); ``params`` are then
    the backbone's.
    """
    from mmengine.analysis import FlopAnalyzer
    was_training = model.training
    model.eval()
    wrapper = TensorModeWrapper(model, part)
    analyzer = FlopAnalyzer(wrapper, (seeded_input(shape), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = analyzer.by_operator()
    counted = model.backbone if part == 'backbone' and hasattr(model, 'backbone') else model
    result = dict(params=sum(p.numel() for p in counted.parameters()),
                  macs=by_op.get('conv', 0) + by_op.get('linear', 0),
                  total=analyzer.total())
    if modules:
        by_module = analyzer.by_module_and_operator()
        result['module_macs'] = {
            name: sum(by_module.get(f'model.{name}', {}).get(op, 0) for op in ('conv', 'linear'))
            for name in modules}
    model.train(was_training)
    return result


def _used_params(module: nn.Module, x: torch.Tensor) -> int:
    """Parameters of the sub-modules that one forward of ``module`` on ``x`` calls."""
    called, hooks = set(), []
    for m in module.modules():
        hooks.append(m.register_forward_pre_hook(lambda mod, inp: called.add(id(mod))))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in hooks:
            h.remove()
    seen = {}
    for m in module.modules():
        if id(m) in called:
            for p in m.parameters(recurse=False):
                seen[id(p)] = p.numel()
    return sum(seen.values())


def _macs(model: nn.Module, part: str, shape: Tuple[int, int], modules: Sequence[str] = ()):
    """count_complexity of a part, or None (with a warning) when tracing fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return count_complexity(model, shape, modules=modules, part=part)
    except Exception as e:  # noqa: BLE001  (tracing can fail on exotic models)
        message = (str(e).strip().splitlines() or [''])[0][:300]
        print(f'warning: MACs of {type(model).__name__} not counted: '
              f'{type(e).__name__}: {message}', file=sys.stderr)
        return None


def _part_params(model: nn.Module, part: str, shape: Tuple[int, int]) -> int:
    if part == 'model':
        return sum(p.numel() for p in model.parameters())
    if hasattr(model, 'backbone'):
        return sum(p.numel() for p in model.backbone.parameters())
    return _used_params(TensorModeWrapper(model, part), seeded_input(shape))  # timm


def part_complexity(model: nn.Module, part: str, shape: Tuple[int, int]) -> Dict[str, int]:
    """``params`` of the part (``model`` or ``backbone``; timm's ``forward_features``) and its
    conv + linear ``macs`` per image at ``shape`` (None where FlopAnalyzer fails)."""
    r = _macs(model, part, shape)
    return dict(params=_part_params(model, part, shape), macs=r and r['macs'])


def model_complexity(model: nn.Module, parts: Sequence[str],
                     shape: Tuple[int, int]) -> Dict[str, Dict[str, int]]:
    """:func:`part_complexity` of each part; with both parts of a model that has a
    ``backbone``, one trace of the whole model gives both."""
    out = {}
    if 'model' in parts and 'backbone' in parts and hasattr(model, 'backbone'):
        r = _macs(model, 'model', shape, modules=('backbone', ))
        bb = r and r['module_macs']['backbone']
        if bb:
            out['model'] = dict(params=_part_params(model, 'model', shape), macs=r['macs'])
            out['backbone'] = dict(params=_part_params(model, 'backbone', shape), macs=bb)
    for part in parts:
        if part not in out:
            out[part] = part_complexity(model, part, shape)
    return out


def config_complexity(config, shape: Tuple[int, int] = (224, 224), deploy: bool = False,
                      backbone_only: bool = False,
                      cfg_options: Optional[dict] = None) -> Dict[str, int]:
    """:func:`count_complexity` of a config's model (or only its backbone), optionally after
    :func:`~mmghost.models.layers.switch_to_deploy`. Detectors are counted through backbone,
    neck and head tensors (no post-processing)."""
    from mmengine.registry import MODELS, DefaultScope
    cfg = load_config(config, cfg_options)
    if backbone_only:
        with DefaultScope.overwrite_default_scope(default_scope(cfg)):
            model = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    else:
        model = build_from_config(cfg)
    if deploy:
        switch_to_deploy(model)
    return count_complexity(model, shape)


def family_complexity(families: Optional[Sequence[str]] = None) -> List[dict]:
    """One row per family and published width: params and MACs of our classifier (the
    reference head; at the family's input size) in training form and, for the
    re-parameterizable families, after ``switch_to_deploy`` (None otherwise)."""
    rows = []
    for key in families or list(FAMILIES):
        fam = get_family(key)
        size = (fam.input_size, fam.input_size)
        for width in fam.widths:
            model = build_classifier(fam.key, width).eval()
            train = count_complexity(model, size)
            fused = count_complexity(switch_to_deploy(copy.deepcopy(model)), size) \
                if fam.reparam else None
            rows.append(dict(family=fam.backbone, width=width, params_train=train['params'],
                             macs_train=train['macs'],
                             params_deploy=fused and fused['params'],
                             macs_deploy=fused and fused['macs']))
    return rows
