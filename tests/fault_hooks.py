"""Fault injection for the crash-safety tests (imported by training subprocesses through
``custom_imports``; registered in mmengine's root hook registry, so any scope finds them)."""
import os
import signal

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the training process at the start of iteration ``iter`` of epoch ``epoch``
    (both 1-based): no Python clean-up, no checkpoint, like an OOM kill or a pulled plug."""

    def __init__(self, epoch: int, iter: int):
        self.epoch, self.iter = epoch, iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.epoch + 1 == self.epoch and batch_idx + 1 == self.iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class PoisonAtIterHook(Hook):
    """Set the model's first weight to NaN at iteration ``iter`` of epoch ``epoch``: the loss
    of that iteration is NaN, like a run whose learning rate makes it diverge."""

    def __init__(self, epoch: int, iter: int):
        self.epoch, self.iter = epoch, iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.epoch + 1 == self.epoch and batch_idx + 1 == self.iter:
            with torch.no_grad():
                next(runner.model.parameters()).fill_(float('nan'))
