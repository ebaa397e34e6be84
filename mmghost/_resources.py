"""Where mmghost's non-Python files are: ``mmghost/.mim/`` of an installed package (what
``mim`` and ``pkg::`` config names read), else the source checkout."""
import os.path as osp
from typing import Optional

__all__ = ['resource_path']

_PKG = osp.dirname(osp.abspath(__file__))


def resource_path(*parts: str) -> Optional[str]:
    """``configs``, ``model-index.yml``, ...: the installed copy, else the checkout's, else
    None."""
    for root in (osp.join(_PKG, '.mim'), osp.dirname(_PKG)):
        path = osp.join(root, *parts)
        if osp.exists(path):
            return path
    return None
