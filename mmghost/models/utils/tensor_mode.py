"""Calling any model as a plain ``tensor -> tensors`` function.

An OpenMMLab model is called with ``mode='tensor'`` (classifiers: the head's logits;
detectors: the heads' raw outputs, given data samples of unscaled images), ``part='backbone'``
calls only its backbone (timm models: ``forward_features``), and a plain module is called
as it is. Complexity counting, ONNX export, benchmarks, the re-parameterization checks and
the distillation teachers all go through :func:`tensor_forward`.
"""
from typing import List, Sequence, Union

import torch
import torch.nn as nn

__all__ = ['is_detector', 'det_samples', 'tensor_forward', 'TensorModeWrapper',
           'flatten_tensors', 'seeded_input', 'PARTS']

PARTS = ('model', 'backbone')


def is_detector(model) -> bool:
    """True for an mmdet detector, or for a config (or model config dict) that builds one.

    A model: its class lives in mmdet, or it has a ``bbox_head``/``rpn_head``. A config: its
    model type resolves (in the config's scope) to an mmdet class, or it has those heads.
    """
    if isinstance(model, nn.Module):
        return type(model).__module__.startswith('mmdet.') or hasattr(model, 'bbox_head') or \
            hasattr(model, 'rpn_head')
    cfg = model.get('model', model) if hasattr(model, 'get') else None
    if cfg is None:
        return False
    if any(k in cfg for k in ('bbox_head', 'rpn_head', 'roi_head')):
        return True
    scope = model.get('default_scope', None) if 'model' in model else None
    t = cfg.get('type', '')
    if isinstance(t, type):
        return t.__module__.startswith('mmdet.')
    return str(t).startswith('mmdet.') or scope == 'mmdet'


def det_samples(x: torch.Tensor) -> list:
    """Data samples of a batch of unscaled, unpadded ``x.shape[-2:]`` images (detectors)."""
    from mmdet.structures import DetDataSample
    h, w = x.shape[-2:]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                scale_factor=(1.0, 1.0))
    return [DetDataSample(metainfo=meta) for _ in range(x.shape[0])]


def tensor_forward(model: nn.Module, x: torch.Tensor, part: str = 'model'):
    """``model``'s raw tensor outputs on a normalized batch ``x`` (see the module docstring)."""
    if part == 'backbone':
        if hasattr(model, 'backbone'):
            return model.backbone(x)
        if hasattr(model, 'forward_features'):
            return model.forward_features(x)
        raise ValueError(f'{type(model).__name__} has no backbone (nor forward_features)')
    if part != 'model':
        raise ValueError(f'unknown part {part!r}; use one of {PARTS}')
    if not hasattr(model, 'data_preprocessor'):
        return model(x)
    if is_detector(model):
        return model(x, det_samples(x), mode='tensor')
    return model(x, mode='tensor')


class TensorModeWrapper(nn.Module):
    """``model`` (or its backbone) as a module whose forward is :func:`tensor_forward`.

    What FlopAnalyzer traces and the ONNX exporter exports.
    """

    def __init__(self, model: nn.Module, part: str = 'model'):
        super().__init__()
        if part not in PARTS:
            raise ValueError(f'unknown part {part!r}; use one of {PARTS}')
        self.model = model
        self.part = part

    def forward(self, x: torch.Tensor):
        return tensor_forward(self.model, x, self.part)


def flatten_tensors(out) -> List[torch.Tensor]:
    """The tensors of nested tuples, lists and dicts (dicts in key order), as a flat list."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in flatten_tensors(out[k])]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in flatten_tensors(o)]
    return []


def seeded_input(shape: Union[int, Sequence[int]], batch_size: int = 1, seed: int = 0,
                 dtype: torch.dtype = torch.float32, device='cpu',
                 channels_last: bool = False) -> torch.Tensor:
    """A seeded ``N x 3 x H x W`` standard-normal batch (an already-normalized image batch)."""
    h, w = (shape, shape) if isinstance(shape, int) else tuple(shape)
    x = torch.randn(batch_size, 3, h, w, generator=torch.Generator().manual_seed(seed))
    x = x.to(device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
