"""Package namespaces whose names are imported on first use (PEP 562)."""
import importlib
from typing import Callable, Dict, List, Sequence, Tuple

__all__ = ['lazy_exports']


def lazy_exports(package: str, exports: Dict[str, Sequence[str]]
                 ) -> Tuple[Callable[[str], object], List[str]]:
    """``(__getattr__, __all__)`` of ``package`` exporting ``{submodule: names}`` lazily."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(f'{package}.{where[name]}'), name)
        raise AttributeError(f'module {package!r} has no attribute {name!r}')

    return __getattr__, sorted(where)
