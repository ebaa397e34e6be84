"""mmghost: the GhostNet family (V1, V2, V3, RepGhost, V3-Small) for OpenMMLab."""
from ._import_hooks import install as _install_import_hooks
from .version import __version__

_install_import_hooks()  # `mmghost::` configs, mmengine checkpoints on torch >= 2.6

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
