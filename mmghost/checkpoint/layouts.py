"""Key layouts of published checkpoints and of mmghost's classifiers, and the mapping.

A published file is a flat state dict or a training wrapper (``state_dict``,
``state_dict_ema``, ...); :func:`select_state_dict` picks the copy. :func:`normalize_keys`
turns it into the reference key names (no ``module.`` prefix, no thop buffers, timm's
renamings undone; which family renames what is stated by :mod:`mmghost.families`), and
:func:`to_mmghost` into our classifier's keys: the backbone keeps the reference names under
``backbone.``; the head is mmpretrain's ``StackedLinearClsHead``, ``head.layers.0.fc`` the
reference ``conv_head`` (a 1x1 conv with bias, reshaped to a linear weight) and
``head.layers.1.fc`` the ``classifier``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from mmghost.families import FAMILIES, THOP_SUFFIXES
from .safe_load import CheckpointError

__all__ = ['EMA_KEYS', 'PLAIN_KEYS', 'HEAD_KEYS', 'select_state_dict', 'normalize_keys',
           'to_mmghost']

#: Wrapper keys of training checkpoints: (EMA copies, plain copies), in order of preference.
EMA_KEYS = ('state_dict_ema', 'model_ema')
PLAIN_KEYS = ('state_dict', 'model')

#: Reference head keys -> our classifier's.
HEAD_KEYS = {
    'conv_head.weight': 'head.layers.0.fc.weight',
    'conv_head.bias': 'head.layers.0.fc.bias',
    'classifier.weight': 'head.layers.1.fc.weight',
    'classifier.bias': 'head.layers.1.fc.bias',
}
_RENAMES = [(re.compile(p), r) for f in FAMILIES.values() for p, r in f.timm_key_renames]


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _describe(value) -> str:
    if isinstance(value, dict):
        return f'{len(value)} entries'
    if isinstance(value, torch.Tensor):
        return 'a tensor'
    return type(value).__name__


def select_state_dict(ckpt, ema: Optional[bool] = None
                      ) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """Pick the weights to convert out of a flat state_dict or a training wrapper.

    Args:
        ckpt (object): What :func:`load_checkpoint_safely` returned.
        ema (bool, optional): ``True`` takes the EMA copy (``state_dict_ema``), ``False`` the
            plain one (``state_dict``). ``None`` prefers the EMA copy when there is one (the
            GhostNetV3 paper's 77.1% are the EMA weights; timm's ``ghostnetv3_100.in1k`` is the
            plain copy).

    Returns:
        tuple: ``(state_dict, which copy, what was dropped)``.
    """
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'expected a state_dict or a dict wrapping one, got '
                              f'{type(ckpt).__name__}')
    if _is_state_dict(ckpt):
        if ema:
            raise CheckpointError('--ema was given, but the file is a flat state_dict with no '
                                  'state_dict_ema copy; drop --ema')
        return dict(ckpt), 'flat state_dict', []
    ema_key = next((k for k in EMA_KEYS if _is_state_dict(ckpt.get(k))), None)
    plain_key = next((k for k in PLAIN_KEYS if _is_state_dict(ckpt.get(k))), None)
    if ema_key is None and plain_key is None:
        # A flat state_dict with a few non-tensor entries (e.g. thop's counters as ints).
        tensors = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(ckpt) / 2 and not ema:
            dropped = [f'{k} ({_describe(v)}, not a tensor)' for k, v in ckpt.items()
                       if not isinstance(v, torch.Tensor)]
            return tensors, 'flat state_dict', dropped
        raise CheckpointError(
            f'found no weights: the file is a dict with keys {sorted(map(str, ckpt))[:12]}, '
            f'none of them a state_dict ({", ".join(EMA_KEYS + PLAIN_KEYS)})')
    if ema is True and ema_key is None:
        raise CheckpointError(f'--ema was given, but the file has no EMA copy (keys: '
                              f'{sorted(map(str, ckpt))})')
    if ema is False and plain_key is None:
        raise CheckpointError(f'--no-ema was given, but the file has only the EMA copy '
                              f'{ema_key!r}; drop --no-ema')
    chosen = plain_key if ema is False or ema_key is None else ema_key
    dropped = []
    for k, v in ckpt.items():
        if k == chosen:
            continue
        if k in (ema_key, plain_key):
            label = 'the unused non-EMA copy' if k == plain_key else 'the unused EMA copy'
            dropped.append(f'{k} ({label}, {len(v)} tensors)')
        else:
            dropped.append(f'{k} ({_describe(v)})')
    return dict(ckpt[chosen]), chosen, dropped


def normalize_keys(state_dict: Dict[str, torch.Tensor]
                   ) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Reference key names: strip ``module.``, drop thop buffers, ``.bn1.`` -> ``.bn.``.

    Returns:
        tuple: ``(state_dict, dropped, renamed)`` (the last two are report lines).
    """
    out: Dict[str, torch.Tensor] = OrderedDict()
    n_module = n_bn = 0
    thop: List[str] = []
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
            n_module += 1
        if key.rsplit('.', 1)[-1] in THOP_SUFFIXES:
            thop.append(key)
            continue
        new = key
        for pattern, replacement in _RENAMES:
            new = pattern.sub(replacement, new)
        n_bn += new != key
        if new in out:
            raise CheckpointError(f'key {new!r} occurs twice after normalizing key names')
        out[new] = value
    dropped = [f'{len(thop)} thop buffers (*.total_ops, *.total_params)'] if thop else []
    renamed = []
    if n_module:
        renamed.append(f"'module.' prefix stripped ({n_module} keys)")
    if n_bn:
        renamed.append(f"timm's '.bn1.' -> '.bn.' inside the re-parameterization branches "
                       f'({n_bn} keys)')
    return out, dropped, renamed


# ----------------------------------------------------------------------------- detection


def to_mmghost(state_dict: Dict[str, torch.Tensor], backbone_only: bool = False
               ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], List[str], List[str]]:
    """Reference keys -> classifier keys (``backbone.*``, ``head.layers.{0,1}.fc.*``).

    Returns:
        tuple: ``(state_dict, our key -> source key, dropped, renamed)``.
    """
    out: Dict[str, torch.Tensor] = OrderedDict()
    origin: Dict[str, str] = {}
    head = {k: v for k, v in state_dict.items() if k in HEAD_KEYS}
    other_head = [k for k in state_dict
                  if k.split('.')[0] in ('conv_head', 'classifier') and k not in HEAD_KEYS]
    if other_head:
        raise CheckpointError(f'unexpected head keys {other_head}: expected conv_head.{{weight,'
                              f'bias}} and classifier.{{weight,bias}}')
    for key, value in state_dict.items():
        if key in HEAD_KEYS:
            continue
        out['backbone.' + key] = value
        origin['backbone.' + key] = key
    dropped: List[str] = []
    renamed = [f"backbone keys prefixed with 'backbone.' ({len(out)} keys)"]
    if backbone_only:
        if head:
            dropped.append(f'the classification head ({", ".join(head)}): --backbone-only')
        return out, origin, dropped, renamed
    missing = [k for k in HEAD_KEYS if k not in head]
    if missing:
        raise CheckpointError(f'the file has no complete classification head (missing '
                              f'{missing}); convert it with --backbone-only')
    weight = head['conv_head.weight']
    if weight.dim() == 4:
        if weight.shape[2:] != (1, 1):
            raise CheckpointError(f'conv_head.weight should be a 1x1 conv, got shape '
                                  f'{list(weight.shape)}')
        renamed.append(f'conv_head -> head.layers.0.fc (weight reshaped {list(weight.shape)} '
                       f'-> {list(weight.shape[:2])})')
        weight = weight.reshape(weight.shape[:2])
    else:
        renamed.append('conv_head -> head.layers.0.fc')
    renamed.append('classifier -> head.layers.1.fc')
    for src_key, dst_key in HEAD_KEYS.items():
        out[dst_key] = weight if src_key == 'conv_head.weight' else head[src_key]
        origin[dst_key] = src_key
    return out, origin, dropped, renamed


# ----------------------------------------------------------------------------- models
