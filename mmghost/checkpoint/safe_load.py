"""Loading checkpoints without running pickled code, on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without ``weights_only``: a full training checkpoint (``resume``) then fails on
``mmengine.logging.history_buffer.HistoryBuffer`` and numpy globals. Rather than switching
``weights_only`` off (which would execute arbitrary pickles), :func:`allow_mmengine_checkpoints`
allowlists exactly the types mmengine writes into its checkpoints; anything else stays refused
by torch. :func:`load_checkpoint_safely` reads any checkpoint file that way (``.safetensors``
with safetensors) and turns every failure into one :class:`CheckpointError` naming the file.

One thing the allowlist cannot see: ``HistoryBuffer.__setstate__`` writes a checkpoint's
``statistics_methods`` into the class, for every buffer of the process. Lookups are limited to
the four methods mmengine registers, and :func:`load_checkpoint_safely` also refuses (and
undoes) a file that maps a statistic to another one's method; a load through mmengine's own
``torch.load`` (``resume``) gets the lookup limit only.
"""
import argparse
import contextlib
import os.path as osp
import pickle
import re
from typing import List

__all__ = ['CheckpointError', 'mmengine_safe_globals', 'allow_mmengine_checkpoints',
           'load_checkpoint_safely']


class CheckpointError(ValueError):
    """A checkpoint cannot be read or used; the message names the file and the problem."""


#: The statistics methods mmengine registers on every HistoryBuffer, which its checkpoints
#: pickle as ``getattr(HistoryBuffer, NAME)``; nothing else may be looked up.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling with ``weights_only=True``.

    ``HistoryBuffer.__getstate__`` stores its statistics functions, which pickle as
    ``getattr(HistoryBuffer, 'mean')``. Only the lookups of :data:`HISTORY_BUFFER_STATISTICS`
    are allowed; any other ``getattr`` in a checkpoint (``register_statistics``, ``__init__``,
    another class) is refused, so allowing HistoryBuffer does not open ``getattr`` in general.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a checkpoint: only the statistics methods '
        f'{", ".join(HISTORY_BUFFER_STATISTICS)} of mmengine\'s HistoryBuffer may be looked up '
        f'while loading with weights_only=True')


def _statistics_methods() -> dict:
    from mmengine.logging.history_buffer import HistoryBuffer
    return HistoryBuffer._statistics_methods


def _check_statistics_unchanged(path: str, before: dict) -> None:
    """Undo and refuse a load that rebound HistoryBuffer's statistics for the whole process
    (its ``__setstate__`` writes a checkpoint's ``statistics_methods`` into the class)."""
    methods = _statistics_methods()
    if methods == before:
        return
    changed = sorted(k for k in set(methods) | set(before) if methods.get(k) is not before.get(k))
    methods.clear()
    methods.update(before)
    raise CheckpointError(
        f'refusing {path}: it rebinds mmengine HistoryBuffer statistics {changed} for the whole '
        f'process (a checkpoint mmengine writes maps each statistic to its own method); the '
        f'statistics were restored')


def mmengine_safe_globals() -> List[object]:
    """Classes and functions an mmengine checkpoint legitimately pickles."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    safe: List[object] = [HistoryBuffer, np.ndarray, np.dtype,
                          (_history_buffer_getattr, 'builtins.getattr')]
    # numpy arrays and scalars pickle through these reconstructors (numpy 1.x and 2.x names).
    try:
        from numpy._core import multiarray as _ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as _ma
    safe += [_ma._reconstruct, _ma.scalar]
    try:  # the concrete dtype classes (np.dtypes exists from numpy 1.25)
        import numpy.dtypes as npd
        safe += [getattr(npd, n) for n in dir(npd) if n.endswith('DType')]
    except ImportError:  # pragma: no cover
        pass
    return safe


def allow_mmengine_checkpoints() -> None:
    """Register :func:`mmengine_safe_globals` with ``torch.serialization`` (idempotent)."""
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_safe_globals())


def _refusal_message(path: str, error: Exception) -> str:
    text = str(error)
    found = re.search(r'GLOBAL ([\w.]+)', text)
    what = f'the global {found.group(1)!r}' if found else 'a global that is not allowed'
    return (
        f'refusing to load {path}: it needs arbitrary unpickling (it tried to load {what}). '
        f'Checkpoints are read with torch.load(weights_only=True), which allows only tensors, '
        f'plain containers and numbers (plus mmengine checkpoint types and argparse.Namespace), '
        f'because unpickling anything else can execute code. If you trust the file, re-save '
        f'only its tensors in a separate Python session, e.g. '
        f'`ck = torch.load(SRC, weights_only=False); torch.save({{k: ck[k] for k in '
        f'("state_dict", "state_dict_ema") if k in ck}}, "clean.pth")` (for a pickled model: '
        f'`torch.save(ck.state_dict(), "clean.pth")`), and convert clean.pth.')


@contextlib.contextmanager
def _also_safe(extra: list):
    """``extra`` allowed for the block, the process's allowlist as it was afterwards (torch's
    own ``safe_globals`` context removes its globals on exit even if they were registered
    before, which dropped :func:`allow_mmengine_checkpoints` after every call)."""
    import torch
    kept = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals(extra)
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(kept)


def load_checkpoint_safely(path: str) -> object:
    """Read a checkpoint without executing pickled code.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(path, map_location='cpu', weights_only=True)``, allowing mmengine's
    checkpoint globals (:func:`mmengine_safe_globals`) and
    ``argparse.Namespace`` for this call only.

    Args:
        path (str): The checkpoint file.

    Returns:
        object: What the file holds (a state_dict or a wrapper dict).

    Raises:
        CheckpointError: The file is missing, needs arbitrary unpickling (the message names
            the global and says how to re-save the tensors), rebinds mmengine's HistoryBuffer
            statistics (undone), or is corrupt/truncated.
    """
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    size = osp.getsize(path)
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
            return load_file(path, device='cpu')
        except Exception as e:  # noqa: BLE001 - any reader failure means a bad file
            raise CheckpointError(f'cannot read {path} ({size} bytes) as a safetensors file '
                                  f'(corrupt or truncated?): {type(e).__name__}: {e}') from e
    import torch
    before = dict(_statistics_methods())
    try:
        with _also_safe(mmengine_safe_globals() + [argparse.Namespace]):
            loaded = torch.load(path, map_location='cpu', weights_only=True)
        _check_statistics_unchanged(path, before)
        return loaded
    except CheckpointError:
        raise
    except pickle.UnpicklingError as e:
        _check_statistics_unchanged(path, before)
        if 'refusing getattr' in str(e):
            raise CheckpointError(f'refusing to load {path}: {e}') from None
        if 'GLOBAL' in str(e) or 'global' in str(e):
            raise CheckpointError(_refusal_message(path, e)) from None
        raise CheckpointError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {e}') from None
    except Exception as e:  # noqa: BLE001 - zip/pickle readers raise many types on bad files
        msg = str(e).split('\n')[0].split('. ')[0][:300]
        raise CheckpointError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {type(e).__name__}: {msg}') from None
