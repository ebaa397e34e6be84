"""mmengine distributed training on machines without CUDA (gloo on CPU).

mmengine 0.10.7 assumes CUDA for DDP: ``init_dist`` calls ``torch.cuda.set_device`` and the
Runner wraps the model with ``device_ids=[LOCAL_RANK]``, so ``dist_train.sh`` stops with
"Found no NVIDIA driver" on a CPU-only machine. :func:`setup_cpu_distributed` makes the same
config run there: gloo backend, the process group initialized from torchrun's environment
before the Runner (which then skips its own ``init_dist``), and DDP without device ids.
With CUDA nothing changes (NCCL, one GPU per process).

SyncBN configs (``sync_bn='torch'`` or ``norm_cfg=dict(type='SyncBN')``) also run there:
torch's ``SyncBatchNorm`` only synchronizes GPU tensors, so :func:`enable_cpu_sync_bn` gives its
modules a CPU path (:class:`CPUSyncBatchNorm`) that all-reduces the batch statistics over gloo;
the CPU runs are wrapped in :class:`CPUDistributedDataParallel`, which applies it before DDP
(whose constructor refuses ``nn.SyncBatchNorm`` on CPU).
"""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmghost.registry import MODEL_WRAPPERS

__all__ = ['setup_cpu_distributed', 'teardown_distributed', 'CPUSyncBatchNorm',
           'enable_cpu_sync_bn', 'CPUDistributedDataParallel']


class _AllReduceSum(torch.autograd.Function):
    """Sum over the process group; the gradient of each rank's input is the summed gradient
    of every rank's output (the loss of the whole job depends on each input through all)."""

    @staticmethod
    def forward(ctx, tensor, group):
        ctx.group = group
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class CPUSyncBatchNorm(_BatchNorm):
    """Batch normalization synchronized over a CPU (gloo) process group.

    What ``nn.SyncBatchNorm`` modules become in a CPU distributed run (same attributes and
    state dict; not a subclass of it, since DDP refuses those on CPU).

    In training mode with more than one process, the mean and variance are those of the whole
    global batch (all ranks), exactly as one process would compute them on the concatenated
    batch; gradients flow through the all-reduce to every rank's input. The running statistics
    get the unbiased global variance, like ``nn.BatchNorm2d``. In eval mode or with one process
    it is plain batch normalization.
    """

    process_group = None

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        group = self.process_group or dist.group.WORLD
        if not (self.training and input.device.type == 'cpu' and dist.is_available()
                and dist.is_initialized() and dist.get_world_size(group) > 1):
            return super().forward(input)
        self._check_input_dim(input)
        channels = input.size(1)
        dims = [0] + list(range(2, input.dim()))
        shape = [1, channels] + [1] * (input.dim() - 2)
        x = input.float()
        n = input.numel() // channels
        # One all-reduce of [count, sum, sum of squares] per layer (and one for the gradient);
        # the squares are taken about the local mean and combined in float64 (Chan et al.'s
        # parallel variance), which keeps the variance accurate.
        local_sum = x.sum(dims)
        local_mean = local_sum / n
        local_dev = x - local_mean.view(shape)
        local_sq = (local_dev * local_dev).sum(dims).double() + \
            local_sum.double() * local_mean.double()
        total = _AllReduceSum.apply(
            torch.cat([local_sum.new_tensor([n], dtype=torch.float64), local_sum.double(),
                       local_sq]), group)
        count = total[0]
        mean64 = total[1:channels + 1] / count
        var = (total[channels + 1:] / count - mean64 * mean64).clamp_min(0).float()
        mean = mean64.float()
        centred = x - mean.view(shape)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / self.num_batches_tracked.item()
                            if self.momentum is None else self.momentum)
                unbiased = var * (count / (count - 1).clamp_min(1)).float()
                self.running_mean.mul_(1 - momentum).add_(momentum * mean)
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
        return out.to(input.dtype)


def enable_cpu_sync_bn(model: nn.Module) -> int:
    """Turn every ``nn.SyncBatchNorm`` in ``model`` into a :class:`CPUSyncBatchNorm`, in place.

    The modules keep their parameters, buffers and process group (only their class changes).

    Returns:
        int: The number of modules switched.
    """
    switched = 0
    for module in model.modules():
        if type(module) is nn.SyncBatchNorm:
            module.__class__ = CPUSyncBatchNorm
            switched += 1
    return switched


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for CPU processes: SyncBN layers synchronize over gloo.

    Used by :func:`setup_cpu_distributed`; takes the same arguments as
    ``MMDistributedDataParallel`` (``device_ids`` must be None on CPU).
    """

    def __init__(self, module: nn.Module, **kwargs):
        enable_cpu_sync_bn(module)
        super().__init__(module=module, **kwargs)


def setup_cpu_distributed(cfg) -> bool:
    """Adapt ``cfg`` (and the process group) for a CPU-only distributed launch, in place.

    Args:
        cfg (mmengine.Config): A training/testing config whose ``launcher`` is set.

    Returns:
        bool: Whether the CPU set-up was applied (launcher ``pytorch`` and no CUDA).

    Raises:
        ValueError: A slurm/mpi launch on a machine without CUDA (their mmengine set-up
            needs CUDA; launch through torchrun, e.g. ``srun`` + ``dist_train.sh``), or mmcv's
            SyncBN (``sync_bn='mmcv'``), which has no CPU kernel.
    """
    from mmengine.config import ConfigDict
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA in mmengine; on a CPU-only machine '
                         f'use --launcher pytorch (tools/dist_train.sh, torchrun)')
    if cfg.get('sync_bn') not in (None, 'torch'):
        raise ValueError(f"sync_bn={cfg.sync_bn!r} needs CUDA (mmcv's SyncBN has no CPU "
                         f"kernel); use sync_bn='torch' on a CPU-only machine")
    env = cfg.setdefault('env_cfg', ConfigDict())
    env.setdefault('dist_cfg', ConfigDict())
    env['dist_cfg']['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules take no device ids
    if MMENGINE_MODEL_WRAPPERS.get(wrapper['type']) is MMDistributedDataParallel:
        wrapper['type'] = 'mmghost.CPUDistributedDataParallel'  # SyncBN over gloo
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group('gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
    return True


def teardown_distributed() -> None:
    """Destroy the process group at the end of a tool (mmengine leaves it open).

    Without it a gloo rank can abort at interpreter exit ("terminate called without an active
    exception", exit code -6) after a successful run, and torchrun reports the job failed.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
