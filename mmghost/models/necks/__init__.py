"""Necks: feature pyramids built from Ghost blocks, drop-ins for mmdet's."""
from .ghost_pafpn import GhostFusionBlock, GhostPAFPN

__all__ = ['GhostPAFPN', 'GhostFusionBlock']
