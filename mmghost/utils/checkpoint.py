"""Safe loading of mmengine checkpoints on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without ``weights_only``: a full training checkpoint (``resume``) then fails on
``mmengine.logging.history_buffer.HistoryBuffer`` and numpy globals. Rather than switching
``weights_only`` off (which would execute arbitrary pickles), allowlist exactly the types
mmengine writes into its checkpoints. Anything else stays refused by torch.
"""
import os
import os.path as osp
import pickle
import tempfile
from typing import Callable, List, Union

__all__ = ['mmengine_safe_globals', 'allow_mmengine_checkpoints', 'atomic_write',
           'save_atomic']


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


def atomic_write(filepath: str, data: Union[bytes, Callable]) -> None:
    """Write ``filepath`` so that it is either complete or untouched (never half-written).

    The content (``bytes``, or a callable given the open binary file) goes to a temporary
    file in the same directory, is flushed to disk and renamed over ``filepath``; on any
    failure the temporary file is removed and an existing ``filepath`` is left as it was.
    """
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - directories cannot be opened on some systems
        pass


def save_atomic(obj, filepath: str) -> None:
    """``torch.save(obj)`` to ``filepath`` through :func:`atomic_write`."""
    import torch
    atomic_write(filepath, lambda f: torch.save(obj, f))
