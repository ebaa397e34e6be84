"""Running a function right after a module is first imported (now, if it already is).

The mechanism behind :mod:`mmghost.library_changes`, which lists what is run and why: a
one-shot meta path finder wraps the loader of each pending module, so nothing is imported
before the program itself imports it.
"""
import importlib.abc
import importlib.util
import sys
from typing import Callable, Dict, List

__all__ = ['after_import']

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
