"""mmengine distributed training on machines without CUDA (gloo on CPU).

mmengine 0.10.7 assumes CUDA for DDP: ``init_dist`` calls ``torch.cuda.set_device`` and the
Runner wraps the model with ``device_ids=[LOCAL_RANK]``, so ``dist_train.sh`` stops with
"Found no NVIDIA driver" on a CPU-only machine. :func:`setup_cpu_distributed` makes the same
config run there: gloo backend, the process group initialized from torchrun's environment
before the Runner (which then skips its own ``init_dist``), and DDP without device ids.
With CUDA nothing changes (NCCL, one GPU per process).
"""
import os

__all__ = ['setup_cpu_distributed', 'teardown_distributed']


def setup_cpu_distributed(cfg) -> bool:
    """Adapt ``cfg`` (and the process group) for a CPU-only distributed launch, in place.

    Args:
        cfg (mmengine.Config): A training/testing config whose ``launcher`` is set.

    Returns:
        bool: Whether the CPU set-up was applied (launcher ``pytorch`` and no CUDA).

    Raises:
        ValueError: A slurm/mpi launch on a machine without CUDA (their mmengine set-up
            needs CUDA; launch through torchrun, e.g. ``srun`` + ``dist_train.sh``).
    """
    import torch
    import torch.distributed as dist
    from mmengine.config import ConfigDict
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA in mmengine; on a CPU-only machine '
                         f'use --launcher pytorch (tools/dist_train.sh, torchrun)')
    if cfg.get('sync_bn') or 'SyncBN' in str(cfg.get('model', '')):
        raise ValueError('SyncBN needs CUDA (torch.nn.SyncBatchNorm has no CPU kernel); use BN '
                         'for CPU runs, e.g. --cfg-options sync_bn=None and norm_cfg type BN')
    env = cfg.setdefault('env_cfg', ConfigDict())
    env.setdefault('dist_cfg', ConfigDict())
    env['dist_cfg']['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules take no device ids
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
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
