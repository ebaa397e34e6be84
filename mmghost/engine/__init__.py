"""Training runtime: hooks, optimizer wrappers, CPU DDP and SyncBN, crash-safe checkpoints and
resume, the data checks run before training, and the demo-set schedule for any detector."""
from .crash_safety import (AtomicLocalBackend, checkpoint_problem, find_resumable_checkpoint,
                           setup_crash_safe_training)
from .demo_training import demo_detection_config
from .dist import (CPUDistributedDataParallel, CPUSyncBatchNorm, enable_cpu_sync_bn,
                   setup_cpu_distributed, teardown_distributed)
from .hooks import ChannelsLastHook, FiniteLossHook, RandomStateHook
from .optim_wrapper import CPUAmpOptimWrapper
from .preflight import check_data, check_neck
from .visualization import enable_visualization

__all__ = [
    'AtomicLocalBackend', 'checkpoint_problem', 'find_resumable_checkpoint',
    'setup_crash_safe_training', 'CPUDistributedDataParallel', 'CPUSyncBatchNorm',
    'enable_cpu_sync_bn', 'setup_cpu_distributed', 'teardown_distributed', 'ChannelsLastHook',
    'FiniteLossHook', 'RandomStateHook', 'CPUAmpOptimWrapper', 'check_data', 'check_neck',
    'enable_visualization', 'demo_detection_config'
]
