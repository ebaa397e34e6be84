"""Models: Ghost layers and re-parameterization, the family backbones, Ghost necks, the KD
classifier, and small model helpers."""
from importlib.util import find_spec

from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

if find_spec('mmpretrain') is not None:  # the KD classifier extends its ImageClassifier
    from .classifiers import *  # noqa: F401,F403
