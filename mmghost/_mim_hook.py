"""Teach mmengine 0.10.7 the ``mmghost::`` config prefix.

mmengine resolves ``_base_ = 'pkg::path'`` only for packages listed in its hard-coded
``mmengine.config.utils.MODULE2PACKAGE`` (mmdet, mmpretrain, mmyolo, ...). ``install()`` adds
``mmghost`` to it: at once if mmengine's config utils are already imported, otherwise right
after they are (a one-shot import hook), so nothing heavy is imported early.

``import mmghost`` calls ``install()``; the installed ``mmghost-mim.pth`` file calls it at
interpreter start, so a user's config inheriting ``mmghost::...`` also works under mmdet's or
mmpretrain's own tools, which never import mmghost before reading the config.
"""
import importlib.abc
import importlib.util
import sys

_TARGET = 'mmengine.config.utils'


def _register(module) -> None:
    table = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(table, dict):
        table.setdefault('mmghost', 'mmghost')


class _RegisterAfterImport(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        # One shot: step aside and let the normal finders locate the module.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _register(module)

        loader.exec_module = exec_module
        return spec


def install() -> None:
    """Make ``mmghost::`` resolvable by mmengine's config loader (idempotent)."""
    module = sys.modules.get(_TARGET)
    if module is not None:
        _register(module)
    elif not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
