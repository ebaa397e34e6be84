"""Crash-safe checkpoints: atomic writes and a resume that skips incomplete files.

mmengine writes a checkpoint by opening ``epoch_N.pth`` and streaming the bytes into it, then
records its name in ``work_dir/last_checkpoint``. A process killed in the middle leaves a
truncated ``epoch_N.pth`` (and, when it overwrites an existing one, destroys the good copy),
and ``--resume`` then fails deep inside ``torch.load``. Two independent guards:

* :class:`AtomicLocalBackend` (file backend ``'mmghost_atomic_local'``) writes through
  :func:`mmghost.checkpoint.atomic_write` (temporary file, flushed to disk, renamed over
  the target): a checkpoint file is either complete or absent.
  :func:`setup_crash_safe_training` makes it the default for local checkpoint directories.
* :func:`find_resumable_checkpoint` verifies candidates before use (zip structure and every
  member's CRC, without unpickling) and falls back from ``last_checkpoint`` to the newest
  complete ``epoch_*.pth`` / ``iter_*.pth``, so files written by any backend are covered.
"""
import glob
import logging
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

from mmghost.checkpoint.atomic import atomic_write

__all__ = ['AtomicLocalBackend', 'checkpoint_problem',
           'find_resumable_checkpoint', 'setup_crash_safe_training']

ATOMIC_BACKEND = 'mmghost_atomic_local'


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text`` (temp file + rename).

    Use it for checkpoints with
    ``default_hooks=dict(checkpoint=dict(backend_args=dict(backend='mmghost_atomic_local')))``.
    """

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete checkpoint, or None when it is.

    Checks the zip container ``torch.save`` writes and the CRC of every member (a truncated
    or partly overwritten file fails), without unpickling anything.
    """
    if not osp.isfile(path):
        return 'file not found'
    if osp.getsize(path) == 0:
        return 'empty file'
    if not zipfile.is_zipfile(path):
        with open(path, 'rb') as f:
            head = f.read(2)
        if head[:1] == b'\x80':  # torch's legacy (pre-1.6) pickle format: cannot be verified
            return None
        return 'not a complete torch.save archive (truncated or not a checkpoint)'
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return f'not a complete torch.save archive ({e})'
    if bad is not None:
        return f'corrupt member {bad!r} (CRC mismatch)'
    return None


def _step(path: str) -> Tuple[int, float]:
    m = re.search(r'(?:epoch|iter)_(\d+)\.pth$', path)
    return (int(m.group(1)) if m else -1, osp.getmtime(path))


def find_resumable_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest complete checkpoint of a work dir, and what was skipped on the way.

    ``work_dir/last_checkpoint`` comes first; when it is missing, empty or names an incomplete
    file, the ``epoch_*.pth`` / ``iter_*.pth`` files of the work dir follow, newest first.

    Returns:
        tuple: ``(path or None, ["<path>: <problem>", ...])``.
    """
    candidates = []
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if named:
            candidates.append(named if osp.isabs(named) or osp.exists(named)
                              else osp.join(work_dir, osp.basename(named)))
    files = glob.glob(osp.join(work_dir, 'epoch_*.pth')) + \
        glob.glob(osp.join(work_dir, 'iter_*.pth'))
    candidates += sorted(files, key=_step, reverse=True)
    skipped, seen = [], set()
    for path in candidates:
        if osp.abspath(path) in seen:
            continue
        seen.add(osp.abspath(path))
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f'{path}: {problem}')
    return None, skipped


def setup_crash_safe_training(cfg, resume: Optional[str] = None) -> None:
    """Apply the crash-safety defaults to a training config, in place.

    * local checkpoints are written atomically (unless the checkpoint hook already names a
      backend or ``file_client_args``);
    * ``mmghost.RandomStateHook`` (resume-exact random streams) and ``mmghost.FiniteLossHook``
      (stop on NaN/inf loss) are added to ``custom_hooks`` unless present;
    * ``resume='auto'`` resumes from :func:`find_resumable_checkpoint`; an explicit path must
      be a complete checkpoint.

    Args:
        cfg (mmengine.Config): The training config.
        resume (str, optional): ``'auto'``, a checkpoint path, or None.

    Raises:
        ValueError: ``resume`` names a file that is missing or incomplete.
    """
    from mmengine.config import ConfigDict
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    ckpt = hooks.get('checkpoint')
    if ckpt is not None:
        out_dir = ckpt.get('out_dir') or ''
        local = '://' not in str(out_dir)
        if local and not ckpt.get('backend_args') and not ckpt.get('file_client_args'):
            ckpt['backend_args'] = dict(backend=ATOMIC_BACKEND)

    custom = list(cfg.get('custom_hooks') or [])
    names = {str(h.get('type', '')).split('.')[-1] for h in custom}
    for hook in ('RandomStateHook', 'FiniteLossHook'):
        if hook not in names:
            custom.append(dict(type=f'mmghost.{hook}'))
    cfg.custom_hooks = custom

    if resume is None:
        return
    if resume == 'auto':
        path, skipped = find_resumable_checkpoint(cfg.work_dir)
        for line in skipped:
            print_log(f'Not resuming from incomplete checkpoint {line}', logger='current',
                      level=logging.WARNING)
        cfg.resume = True
        cfg.load_from = path  # None: mmengine starts from scratch (nothing to resume)
        if path is None and skipped:
            print_log('No complete checkpoint to resume from; training starts from scratch',
                      logger='current', level=logging.WARNING)
        return
    problem = checkpoint_problem(resume)
    if problem is not None:
        raise ValueError(f'--resume {resume}: {problem}; expected a complete checkpoint '
                         f'written by mmengine (torch.save archive)')
    cfg.resume = True
    cfg.load_from = resume
