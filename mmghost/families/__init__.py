"""Facts of each GhostNet family (arch tables, widths, DFC rule, key layouts, timm names,
published checkpoints and top-1): pure Python, read by the models, checkpoints, analysis and
docs."""
from .catalogue import (ALIASES, FAMILIES, THOP_SUFFIXES, all_models, all_releases, family_of,
                        get_family, get_model_entry, get_release)
from .descriptor import (Arch, Family, PublishedModel, Release, deploy_name, fmt_width,
                         make_divisible)
from .ghostnet import GHOSTNET, GHOSTNETV2
from .ghostnetv3 import GHOSTNETV3, GHOSTNETV3_SMALL
from .layout import (LayoutError, describe_width, detect_layout, detect_width, final_conv_key,
                     num_stages)
from .repghostnet import REPGHOSTNET

__all__ = [
    'Arch', 'Family', 'Release', 'PublishedModel', 'FAMILIES', 'ALIASES', 'get_family',
    'family_of', 'all_releases', 'get_release', 'all_models', 'get_model_entry', 'deploy_name',
    'make_divisible', 'fmt_width', 'LayoutError',
    'detect_layout', 'detect_width', 'describe_width', 'final_conv_key', 'num_stages',
    'THOP_SUFFIXES', 'GHOSTNET', 'GHOSTNETV2', 'GHOSTNETV3', 'GHOSTNETV3_SMALL', 'REPGHOSTNET'
]
