"""Runner hooks: channels-last, stop on a non-finite loss, resume-exact random states."""
from .channels_last_hook import ChannelsLastHook
from .finite_loss_hook import FiniteLossHook
from .random_state_hook import RandomStateHook

__all__ = ['ChannelsLastHook', 'FiniteLossHook', 'RandomStateHook']
