"""Writing files so that they are either complete or untouched (never half-written)."""
import os
import os.path as osp
import tempfile
from typing import Callable, Union

__all__ = ['atomic_write', 'save_atomic']


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
