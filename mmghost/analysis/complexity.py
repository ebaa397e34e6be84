"""Parameters and MACs: of any model, of a config's model, and of every family and width."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn

from mmghost.families import FAMILIES, get_family
from mmghost.models.layers import switch_to_deploy
from mmghost.models.utils import (TensorModeWrapper, build_classifier, build_from_config,
                                  default_scope, load_config, seeded_input)

__all__ = ['count_complexity', 'config_complexity', 'family_complexity']


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
