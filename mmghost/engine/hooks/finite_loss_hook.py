"""Stop training at the first NaN or infinite loss, keeping the last good checkpoint."""
import math

import torch
import torch.distributed as dist
from mmengine.hooks import Hook

from mmghost.registry import HOOKS


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise ``FloatingPointError`` as soon as the training loss is NaN or infinite.

    Checked after every iteration (one scalar; in a distributed run the verdict is
    all-reduced, so every process stops at the same iteration instead of the others waiting
    in the next gradient all-reduce). The run stops before any checkpoint of the diverged
    state is written, and the message names the iteration, every loss term and the last good
    checkpoint to resume from.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive integer, got {interval!r}')
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs or 'loss' not in outputs or not self.every_n_train_iters(
                runner, self.interval):
            return
        loss = outputs['loss']
        finite = bool(torch.isfinite(loss).all()) if torch.is_tensor(loss) \
            else math.isfinite(float(loss))
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            flag = torch.tensor([0.0 if finite else 1.0])
            if dist.get_backend() == 'nccl':
                flag = flag.cuda()
            dist.all_reduce(flag)
            diverged_ranks = int(flag.item())
        else:
            diverged_ranks = 0 if finite else 1
        if diverged_ranks == 0:
            return
        terms = ', '.join(f'{k}={float(v):.4g}' for k, v in outputs.items()
                          if torch.is_tensor(v) and v.numel() == 1)
        last = runner.message_hub.get_info('last_ckpt')
        where = (f'epoch {runner.epoch + 1}, iteration {batch_idx + 1} of the epoch '
                 f'(global iteration {runner.iter + 1})')
        keep = (f'The last good checkpoint is {last}; resume from it (--resume {last}) with '
                f'a lower learning rate, gradient clipping (optim_wrapper.clip_grad) or '
                f'without fp16.' if last else
                'No checkpoint was written before; lower the learning rate, clip gradients '
                '(optim_wrapper.clip_grad) or train without fp16.')
        raise FloatingPointError(
            f'Training diverged at {where}: the loss is not finite '
            f'({terms or loss}; {diverged_ranks} process(es) affected). Stopped without '
            f'saving the diverged weights. {keep}')
