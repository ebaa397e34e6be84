"""mmghost: the GhostNet family (V1, V2, V3, RepGhost, V3-Small) for OpenMMLab."""
from .library_changes import install as _install_library_changes
from .version import __version__

# What mmghost changes in mmengine, torch's loader and mmpretrain, each when its module is
# imported: the list, with reasons, is mmghost.library_changes.
_install_library_changes()

__all__ = ['__version__', 'switch_to_deploy', 'optimize_for_inference']


def __getattr__(name):
    # ``mmghost.switch_to_deploy`` without importing torch/mmcv on ``import mmghost``.
    if name == 'switch_to_deploy':
        from .models.layers.reparam import switch_to_deploy
        return switch_to_deploy
    if name == 'optimize_for_inference':
        from .reparameterize.inference_form import optimize_for_inference
        return optimize_for_inference
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
