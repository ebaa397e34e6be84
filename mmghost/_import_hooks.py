"""What mmghost wires into OpenMMLab, each step when the module it changes is imported.

``import mmghost`` (and the ``mmghost-mim.pth`` file the set-up installs, at interpreter start)
calls :func:`install`, which imports nothing heavy: each step runs at once if its target
module is already imported, otherwise right after the target is first imported (a one-shot
import hook per target). So a user's config inheriting ``mmghost::...`` also works under
mmdet's or mmpretrain's own tools, which never import mmghost before reading the config.

* ``mmengine.config.utils``: ``_base_ = 'mmghost::path'`` resolves (mmengine 0.10.7 knows
  only the packages of its hard-coded ``MODULE2PACKAGE``);
* ``mmengine.runner.checkpoint``: checkpoints mmengine writes (message hub, numpy scalars)
  load with torch >= 2.6's ``weights_only=True``, through a narrow allowlist
  (:func:`mmghost.checkpoint.allow_mmengine_checkpoints`); ``mmghost://NAME`` and the URLs of
  published GhostNet checkpoints load converted (:mod:`mmghost.checkpoint.hub`);
* ``mmpretrain.apis.model``: mmghost's model index joins mmpretrain's ``ModelHub``, so
  ``get_model``, ``list_models`` and the inferencers know the published GhostNets.
"""
import importlib.abc
import importlib.util
import sys
from typing import Callable, Dict, List

__all__ = ['install', 'after_import']

_PENDING: Dict[str, List[Callable]] = {}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of a pending target so that its callbacks run after it executes."""

    _busy = False

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PENDING or self._busy:
            return None
        self._busy = True  # let the normal finders locate the module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            for fn in _PENDING.pop(fullname, []):
                fn(module)

        loader.exec_module = exec_module
        return spec


def after_import(name: str, fn: Callable) -> None:
    """Call ``fn(module)`` once module ``name`` is imported (now, if it already is)."""
    module = sys.modules.get(name)
    if module is not None:
        fn(module)
        return
    _PENDING.setdefault(name, []).append(fn)
    if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


def _config_prefix(module) -> None:
    table = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(table, dict):
        table.setdefault('mmghost', 'mmghost')


def _checkpoint_loading(module) -> None:
    from mmghost.checkpoint.hub import register_loaders
    from mmghost.checkpoint.safe_load import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    register_loaders(module.CheckpointLoader)


def _model_index(module) -> None:
    from mmghost.checkpoint.hub import register_model_index
    register_model_index(module.ModelHub)


_STEPS = (('mmengine.config.utils', _config_prefix),
          ('mmengine.runner.checkpoint', _checkpoint_loading),
          ('mmpretrain.apis.model', _model_index))
_installed = False


def install() -> None:
    """Schedule every step (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name, fn in _STEPS:
        after_import(name, fn)
