"""Parameter and MAC counting shared by the analysis tools and the tests."""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn

__all__ = ['count_complexity']


class _TensorMode(nn.Module):
    """Calls an OpenMMLab model in ``mode='tensor'`` (plain modules are called as they are)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        if hasattr(self.model, 'data_preprocessor'):
            return self.model(x, mode='tensor')
        return self.model(x)


def count_complexity(model: nn.Module, shape: Tuple[int, int] = (224, 224),
                     modules: Sequence[str] = ()) -> Dict[str, int]:
    """Params and MACs of ``model`` on one ``3 x H x W`` input, with mmengine's FlopAnalyzer.

    Returns ``params``, ``macs`` (conv + linear multiply-accumulates: the papers' "FLOPs") and
    ``total`` (FlopAnalyzer's total, which also counts BN, pooling, upsampling, ...).
    ``modules`` (sub-module names, e.g. ``('backbone', )``) adds ``module_macs``: their conv +
    linear MACs in the same trace.
    """
    from mmengine.analysis import FlopAnalyzer
    was_training = model.training
    model.eval()
    analyzer = FlopAnalyzer(_TensorMode(model), (torch.randn(1, 3, *shape), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = analyzer.by_operator()
    result = dict(params=sum(p.numel() for p in model.parameters()),
                  macs=by_op.get('conv', 0) + by_op.get('linear', 0),
                  total=analyzer.total())
    if modules:
        by_module = analyzer.by_module_and_operator()
        result['module_macs'] = {
            name: sum(by_module.get(f'model.{name}', {}).get(op, 0) for op in ('conv', 'linear'))
            for name in modules}
    model.train(was_training)
    return result
