"""OpenMMLab registries of mmghost.

Every registry is a child of mmengine's root registry with scope ``mmghost`` and lazy
``locations`` (the packages defining the registered classes), so ``type='mmghost.GhostNetV3'``
resolves from an mmdet or mmpretrain config (or any other OpenMMLab scope) without
``custom_imports``: mmengine imports ``mmghost.registry`` when it meets the ``mmghost.``
prefix, and the registry imports the defining package on first lookup.
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import Registry

__all__ = ['MODELS', 'HOOKS', 'MODEL_WRAPPERS', 'OPTIM_WRAPPERS']

#: Backbones, layers (Ghost modules, re-parameterizable blocks), classifiers, and exported
#: models run by mmengine's Runner (``mmghost.DeployedModel``).
MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmghost',
                  locations=['mmghost.models', 'mmghost.runtime.deployed_model'])

#: Runner hooks (``custom_hooks=[dict(type='mmghost.ChannelsLastHook')]``).
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmghost',
                 locations=['mmghost.engine.hooks'])

#: Model wrappers (``mmghost.CPUDistributedDataParallel``: DDP with SyncBN over gloo on CPU).
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='mmghost',
                          locations=['mmghost.engine.dist'])

#: Optimizer wrappers (``mmghost.CPUAmpOptimWrapper``: bf16 autocast on CPU, ``--amp``).
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mmghost',
                          locations=['mmghost.engine.optim_wrapper'])
