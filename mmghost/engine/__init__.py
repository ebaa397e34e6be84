from .hooks import ChannelsLastHook, FiniteLossHook, RandomStateHook
from .optim_wrapper import CPUAmpOptimWrapper

__all__ = ['ChannelsLastHook', 'FiniteLossHook', 'RandomStateHook', 'CPUAmpOptimWrapper']

# Registers the 'mmghost_atomic_local' file backend that configs written by tools/train.py
# name for their checkpoints, so they also work where mmghost.engine is all that got imported.
from mmghost.utils import resume as _resume  # noqa: E402,F401
