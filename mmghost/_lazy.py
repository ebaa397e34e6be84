"""Package namespaces whose names are imported on first use (PEP 562), and module paths kept
for a release after their module moved."""
import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from typing import Callable, Dict, List, Sequence, Tuple

__all__ = ['lazy_exports', 'moved_modules']


def lazy_exports(package: str, exports: Dict[str, Sequence[str]]
                 ) -> Tuple[Callable[[str], object], List[str]]:
    """``(__getattr__, __all__)`` of ``package`` exporting ``{submodule: names}`` lazily.

    A submodule given as an absolute name (``'mmghost.runtime.backends'``) is imported as it
    is; otherwise relative to ``package``.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in where:
            module = where[name]
            if not module.startswith('mmghost.'):
                module = f'{package}.{module}'
            return getattr(importlib.import_module(module), name)
        raise AttributeError(f'module {package!r} has no attribute {name!r}')

    return __getattr__, sorted(where)


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``old`` as the module ``new`` (the same object) with a DeprecationWarning."""

    def __init__(self, moved: Dict[str, str]):
        self.moved = moved

    def find_spec(self, fullname, path, target=None):
        if fullname in self.moved:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return None  # a placeholder; exec_module puts the moved module in its place

    def exec_module(self, module):
        old, new = module.__name__, self.moved[module.__name__]
        warnings.warn(f'{old} moved to {new}; import it from there ({old} is kept for one '
                      'release)', DeprecationWarning, stacklevel=2)
        sys.modules[old] = importlib.import_module(new)  # what the import statement returns


def moved_modules(moved: Dict[str, str]) -> None:
    """Keep the module paths ``{old: new}`` importable (``old`` *is* ``new``, with a warning)."""
    for finder in sys.meta_path:
        if isinstance(finder, _MovedModuleFinder):
            finder.moved.update(moved)
            return
    sys.meta_path.append(_MovedModuleFinder(dict(moved)))
