"""Backbones: one class per family on one shared skeleton (:class:`BaseGhostNet`)."""
from .base_ghostnet import BaseGhostNet
from .ghostnet import GhostNet, GhostNetV2
from .ghostnet_v3 import GhostNetV3, GhostNetV3Small
from .repghostnet import RepGhostNet

__all__ = ['BaseGhostNet', 'GhostNet', 'GhostNetV2', 'GhostNetV3', 'GhostNetV3Small',
           'RepGhostNet']
