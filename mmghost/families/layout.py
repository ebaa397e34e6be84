"""Which family, form and width a reference-layout state dict is, from its key names and shapes.

Works on any mapping of key names to objects with a ``.shape`` (tensors, arrays, shapes), so
it needs no torch; keys are the reference names (``conv_stem.weight``, ``blocks.i.j....``),
without mmpretrain's ``backbone.`` prefix.
"""
import re
from typing import Mapping, Optional, Sequence, Tuple

from .catalogue import FAMILIES
from .descriptor import fmt_width

__all__ = ['LayoutError', 'num_stages', 'final_conv_key', 'detect_layout', 'detect_width',
           'describe_width']


class LayoutError(ValueError):
    """The keys are not a GhostNet-family layout this package knows."""


def num_stages(keys: Sequence[str]) -> int:
    """``1 + max i`` over the ``blocks.i.`` keys (0 without any)."""
    idx = [int(m.group(1)) for m in (re.match(r'blocks\.(\d+)\.', k) for k in keys) if m]
    return max(idx) + 1 if idx else 0


def final_conv_key(keys: Sequence[str]) -> str:
    """The weight of the final 1x1 ConvBnAct, whose channels tell the width."""
    return f'blocks.{num_stages(list(keys)) - 1}.0.conv.weight'


def detect_layout(state_dict: Mapping[str, object]) -> Tuple[str, str]:
    """``(family key, form)`` of a reference-layout state dict.

    Each family states the key patterns of its forms (``Family.key_markers``); they are tried
    in ``detect_rank`` order, and families sharing a pattern (GhostNetV3 and V3-Small) are
    told apart by their number of stages. V1/V2 have one form, reported as ``'train'``.

    Raises:
        LayoutError: Not a GhostNet-family state dict (the message says why).
    """
    keys = list(state_dict)
    if 'conv_stem.weight' not in state_dict or not any(k.startswith('blocks.') for k in keys):
        if any(k.startswith('backbone.') for k in keys):
            raise LayoutError('the keys start with "backbone.": this already is an '
                              'mmghost/mmpretrain checkpoint, nothing to convert')
        raise LayoutError(
            f'this is not a GhostNet-family checkpoint: it has no conv_stem.weight and '
            f'blocks.* keys (found {len(keys)} keys such as {keys[:4]})')
    stages = num_stages(keys)
    families = sorted(FAMILIES.values(), key=lambda f: f.detect_rank)
    for rank in sorted({f.detect_rank for f in families}):
        tied = [f for f in families if f.detect_rank == rank]
        hits = [(f, form) for f in tied for form in [f.key_form(keys)] if form is not None]
        if not hits:
            continue
        exact = [(f, form) for f, form in hits if f.arch.num_stages == stages]
        family, form = (exact or hits)[0]
        return family.key, form
    raise LayoutError('the file has conv_stem and blocks.* keys but no Ghost module '
                      '(ghost1.primary_conv, ghost1.*_rpr_*, ...): not a GhostNet-family '
                      'layout this package knows')


def detect_width(state_dict: Mapping[str, object], family: str) -> Optional[float]:
    """The published width whose final 1x1 conv (``960·w`` channels) matches, or None.

    Raises:
        LayoutError: The state dict has no final 1x1 conv.
    """
    fam = FAMILIES[family]
    key = final_conv_key(list(state_dict))
    if key not in state_dict:
        raise LayoutError(f'cannot tell the width: the file has no {key} (the final 1x1 '
                          f'ConvBnAct); pass --width if the file is otherwise complete')
    channels = state_dict[key].shape[0]
    for w in fam.widths:
        if fam.final_channels(w) == channels:
            return w
    return None


def describe_width(state_dict: Mapping[str, object], family: str) -> str:
    """``'GhostNetV3 1.0x (final 1x1 conv: 960 channels)'``, or why the width is unknown."""
    fam = FAMILIES[family]
    key = final_conv_key(list(state_dict))
    if key not in state_dict:
        return f'{fam.backbone} of unknown width (no {key})'
    channels = state_dict[key].shape[0]
    w = detect_width(state_dict, family)
    if w is not None:
        return f'{fam.backbone} {fmt_width(w)} (final 1x1 conv: {channels} channels)'
    known = ', '.join(f'{fmt_width(x)}: {fam.final_channels(x)}' for x in fam.widths)
    return (f'{fam.backbone} of a width that is not released (final 1x1 conv: {channels} '
            f'channels; {known})')
