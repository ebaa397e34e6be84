"""Loading checkpoints without running pickled code, on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without ``weights_only``: a full training checkpoint (``resume``) then fails on
``mmengine.logging.history_buffer.HistoryBuffer`` and numpy globals. Rather than switching
``weights_only`` off (which would execute arbitrary pickles), :func:`allow_mmengine_checkpoints`
allowlists exactly the types mmengine writes into its checkpoints; anything else stays refused
by torch. :func:`load_checkpoint_safely` reads any checkpoint file that way (``.safetensors``
with safetensors) and turns every failure into one :class:`CheckpointError` naming the file.
"""
import argparse
import os.path as osp
import pickle
import re
from typing import List

__all__ = ['CheckpointError', 'mmengine_safe_globals', 'allow_mmengine_checkpoints',
           'load_checkpoint_safely']


class CheckpointError(ValueError):
    """A checkpoint cannot be read or used; the message names the file and the problem."""


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling with ``weights_only=True``.

    ``HistoryBuffer.__getstate__`` stores its statistics functions, which pickle as
    ``getattr(HistoryBuffer, 'mean')``. Only that lookup is allowed; any other ``getattr`` in
    a checkpoint is refused, so allowing HistoryBuffer does not open ``getattr`` in general.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_') and \
            callable(getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a checkpoint: only the statistics methods '
        f'of mmengine\'s HistoryBuffer may be looked up while loading with weights_only=True')


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
            the global and says how to re-save the tensors), or is corrupt/truncated.
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
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals() + [argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        if 'GLOBAL' in str(e) or 'global' in str(e):
            raise CheckpointError(_refusal_message(path, e)) from None
        raise CheckpointError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {e}') from None
    except Exception as e:  # noqa: BLE001 - zip/pickle readers raise many types on bad files
        msg = str(e).split('\n')[0].split('. ')[0][:300]
        raise CheckpointError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {type(e).__name__}: {msg}') from None
