"""A config's model, built without fetching weights."""
import copy
import os.path as osp
from typing import Optional

import torch.nn as nn

__all__ = ['load_config', 'default_scope', 'build_from_config', 'configs_root',
           'family_config', 'build_classifier']


def load_config(config, cfg_options: Optional[dict] = None):
    """A :class:`mmengine.Config` from a path, an ``mmdet::``/``mmpretrain::``/``mmghost::``
    name, or a Config (copied), with ``cfg_options`` merged in."""
    from mmengine.config import Config
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif '::' in str(config):
        from mmengine.hub import get_config
        cfg = get_config(str(config))
    else:
        cfg = Config.fromfile(str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_scope(cfg) -> str:
    """The registry scope a config's model is built in (``default_scope``, else guessed)."""
    scope = cfg.get('default_scope', None)
    if scope:
        return scope
    model_type = str(cfg.model.get('type', ''))
    if model_type.startswith('mmpretrain.') or 'Classifier' in model_type:
        return 'mmpretrain'
    return 'mmdet'


def build_from_config(cfg) -> nn.Module:
    """Build ``cfg.model`` in its scope with ``backbone.init_cfg=None``, in eval mode.

    Nothing is fetched: the backbone's pretrained ``init_cfg`` is dropped (the weights come
    from a checkpoint anyway), ``init_weights`` is not called, and distillation teachers whose
    checkpoint file is absent are built without weights.
    """
    from mmengine.registry import MODELS, DefaultScope
    cfg = copy.deepcopy(cfg)
    if cfg.model.get('backbone', None) is not None:
        cfg.model.backbone.init_cfg = None
    for t in cfg.model.get('teachers', None) or []:
        if isinstance(t, dict) and t.get('checkpoint') and not osp.isfile(t['checkpoint']):
            t['checkpoint'] = None
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        model = MODELS.build(cfg.model)
    return model.eval()


def configs_root() -> Optional[str]:
    """The folder of mmghost's configs: ``mmghost/.mim/configs`` of an installed package, else
    ``configs/`` of the source checkout (None when neither exists)."""
    from mmghost._resources import resource_path
    root = resource_path('configs')
    return root if root and osp.isdir(osp.join(root, 'classification')) else None


def family_config(family: str, width: float, deploy: bool = False) -> Optional[str]:
    """Our classification config of ``family`` at ``width`` (relative to the configs folder),
    or None when there is none (see :meth:`mmghost.families.Family.config`)."""
    from mmghost.families import get_family
    root = configs_root()
    path = get_family(family).config(width, deploy)
    if root is None or path is None or not osp.isfile(osp.join(root, path)):
        return None
    return path


def build_classifier(family: str, width: float, deploy: bool = False,
                     num_classes: Optional[int] = None, hidden: int = 1280) -> nn.Module:
    """Our classifier of ``family`` at ``width``: the family's base model config
    (``configs/classification/_base_/models``), no pretrained weights, not initialized.

    Args:
        family (str): A family key, alias or backbone name (:func:`mmghost.families.get_family`).
        width (float): ``widen_factor``.
        deploy (bool): Build the re-parameterized form (GhostNetV3, RepGhostNet, V3-Small).
        num_classes (int, optional): Classes of the head. Defaults to the family's (1000;
            10 for GhostNetV3-Small).
        hidden (int): Width of the head's hidden layer (the reference ``conv_head``).
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS

    from mmghost.families import get_family
    fam = get_family(family)
    root = configs_root()
    if root is None:
        raise FileNotFoundError('cannot find mmghost\'s configs/ folder (mmghost/.mim/configs '
                                'or the checkout\'s configs/)')
    cfg = Config.fromfile(osp.join(root, 'classification', '_base_', 'models',
                                   fam.base_config))
    model = copy.deepcopy(cfg.model)
    num_classes = fam.num_classes if num_classes is None else int(num_classes)
    model.backbone.update(widen_factor=float(width), init_cfg=None)
    if fam.reparam:
        model.backbone['deploy'] = bool(deploy)
    model.head.update(in_channels=fam.final_channels(width), num_classes=num_classes,
                      mid_channels=[hidden])
    model.data_preprocessor['num_classes'] = num_classes
    return MODELS.build(model)
