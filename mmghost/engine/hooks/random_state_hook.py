"""Checkpoint the random number generators so that ``--resume`` continues bit-exactly."""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmghost.registry import HOOKS


def _get_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save and restore the Python, NumPy and torch (CPU and CUDA) random states.

    mmengine's checkpoints hold the model, optimizer, schedulers and counters but not the
    random generators, so a resumed run draws other dropout / drop-path masks and (with
    ``num_workers=0``) other augmentations than the run it continues. This hook records every
    rank's generators at the end of each training epoch (before the checkpoint of that epoch
    is written), stores them in the checkpoint under ``'random_state'``, and sets them back
    at the start of the next training epoch, both after a resume and in an uninterrupted run
    (so validation or other work between epochs never shifts the training streams).

    With deterministic settings on CPU, ``--resume`` after a kill then ends with the same
    weights as a run that was never interrupted. Data-loader workers are seeded per epoch by
    mmengine, so non-persistent workers are covered; ``persistent_workers=True`` workers keep
    their generator across epochs, which restarts on resume (a warning says so). Only
    epoch-based loops are handled (the state is taken at epoch boundaries).
    """

    priority = 'NORMAL'  # after_train_epoch before CheckpointHook (VERY_LOW) saves

    def __init__(self) -> None:
        self._states: Optional[list] = None

    def after_train_epoch(self, runner) -> None:
        state = _get_state()
        self._states = all_gather_object(state) if get_world_size() > 1 else [state]

    def before_train_epoch(self, runner) -> None:
        if self._states is None:
            return
        rank = get_rank()
        if len(self._states) != get_world_size():
            print_log(f'RandomStateHook: the checkpoint holds the random states of '
                      f'{len(self._states)} processes, this run has {get_world_size()}; '
                      f'random streams are not restored', logger='current',
                      level=logging.WARNING)
        else:
            _set_state(self._states[rank])
        self._states = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._states is not None:
            checkpoint['random_state'] = self._states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_state')
        if states is None:
            print_log('RandomStateHook: the checkpoint has no random states (written without '
                      'this hook); the resumed run draws new random numbers', logger='current',
                      level=logging.WARNING)
            return
        self._states = list(states)
        loader = getattr(runner.train_loop, 'dataloader', None)
        if getattr(loader, 'persistent_workers', False) and loader.num_workers > 0:
            print_log('RandomStateHook: persistent data-loader workers restart their random '
                      'streams on resume, so augmentations differ from an uninterrupted run '
                      '(set persistent_workers=False for a bit-exact resume)', logger='current',
                      level=logging.WARNING)
