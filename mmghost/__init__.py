"""mmghost: the GhostNet family (V1, V2, V3, RepGhost, V3-Small) for OpenMMLab."""
from ._mim_hook import install as _install_mim_hook
from .version import __version__

_install_mim_hook()  # `_base_ = 'mmghost::...'` in configs

__all__ = ['__version__', 'switch_to_deploy', 'optimize_for_inference']


def __getattr__(name):
    # ``mmghost.switch_to_deploy`` without importing torch/mmcv on ``import mmghost``.
    if name == 'switch_to_deploy':
        from .models.layers.reparam import switch_to_deploy
        return switch_to_deploy
    if name == 'optimize_for_inference':
        from .models.inference import optimize_for_inference
        return optimize_for_inference
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
