"""Building, loading and comparing models in training and deploy form (shared by the tools).

``tools/model_converters/reparameterize.py``, ``tools/misc/check_deploy.py`` and
``tools/deployment/pytorch2onnx.py`` all need the same steps: build a config's model without
fetching pretrained weights, load a checkpoint strictly (and tell a deploy-form checkpoint
from a mismatched one), derive the deploy config, and compare the raw outputs of two models.
"""
import copy
import inspect
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

__all__ = [
    'load_config', 'default_scope', 'build_model', 'make_deploy_config',
    'pending_reparam_modules', 'reparameterizable_parts', 'load_weights', 'load_model',
    'load_deploy_form',
    'is_detector', 'det_samples', 'tensor_outputs', 'max_relative_difference', 'normalized_input',
    'CheckpointFormError'
]


class CheckpointFormError(ValueError):
    """The checkpoint does not fit the model (wrong form or wrong model).

    ``deploy_form`` is True when the checkpoint is the re-parameterized form of the model.
    """

    def __init__(self, message: str, deploy_form: bool = False):
        super().__init__(message)
        self.deploy_form = deploy_form


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


def build_model(cfg) -> nn.Module:
    """Build ``cfg.model`` in its scope with ``backbone.init_cfg=None``, in eval mode.

    Nothing is fetched: the backbone's pretrained ``init_cfg`` is dropped (the weights come
    from a checkpoint anyway) and ``init_weights`` is not called.
    """
    import mmghost.models  # noqa: F401  (registers the mmghost scope)
    from mmengine.registry import MODELS, DefaultScope
    cfg = copy.deepcopy(cfg)
    if cfg.model.get('backbone', None) is not None:
        cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        model = MODELS.build(cfg.model)
    return model.eval()


def _is_reparameterizable(cls) -> bool:
    from mmghost.models.layers.reparam import RepModuleMixin
    if not isinstance(cls, type):
        return False
    if issubclass(cls, RepModuleMixin):
        return True
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return callable(getattr(cls, 'switch_to_deploy', None)) and 'deploy' in params


def _reparameterizable_nodes(cfg) -> List[Tuple[str, dict]]:
    import mmghost.models  # noqa: F401
    from mmengine.registry import MODELS, DefaultScope
    found: List[Tuple[str, dict]] = []

    def visit(node, path):
        if isinstance(node, dict):
            t = node.get('type', None)
            cls = MODELS.get(t) if isinstance(t, str) else t
            if _is_reparameterizable(cls):
                found.append((path, node))
            for k, v in node.items():
                if k != 'teachers':  # KD teachers are not part of the checkpoint
                    visit(v, f'{path}.{k}')
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}.{i}')

    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        visit(cfg.model, 'model')
    return found


def reparameterizable_parts(cfg) -> List[str]:
    """Dotted keys of the re-parameterizable parts of ``cfg.model`` (in either form).

    A part is a dict whose ``type`` is an mmghost re-parameterizable backbone or block, or
    any class with ``switch_to_deploy`` and a ``deploy`` argument (such as mmpretrain's
    RepVGG). GhostNet V1/V2 have none. KD ``teachers`` are not searched.
    """
    return [path for path, _ in _reparameterizable_nodes(cfg)]


def make_deploy_config(cfg):
    """A copy of ``cfg`` whose re-parameterizable parts are built with ``deploy=True``.

    The same as ``--cfg-options model.backbone.deploy=True`` for a GhostNetV3, RepGhostNet
    or GhostNetV3-Small backbone; see :func:`reparameterizable_parts`.

    Returns:
        tuple: ``(deploy_cfg, changed)``; ``changed`` lists the dotted keys that were set.
    """
    cfg = copy.deepcopy(cfg)
    changed: List[str] = []
    for path, node in _reparameterizable_nodes(cfg):
        if node.get('deploy', False) is not True:
            node['deploy'] = True
            changed.append(f'{path}.deploy')
    return cfg, changed


def pending_reparam_modules(model: nn.Module) -> List[str]:
    """Names of the blocks :func:`mmghost.switch_to_deploy` would still fuse."""
    from mmghost.models.layers.reparam import RepModuleMixin
    names = []
    for name, m in model.named_modules():
        if isinstance(m, RepModuleMixin):
            if not m.deploy:
                names.append(name)
        elif callable(getattr(m, 'switch_to_deploy', None)) and \
                not getattr(m, 'deploy', False):
            names.append(name)
    return names


def load_weights(model: nn.Module, checkpoint: str) -> Dict[str, Any]:
    """Load ``checkpoint`` strictly into ``model`` (mmengine's ``load_checkpoint``).

    Raises:
        FileNotFoundError: No such file.
        CheckpointFormError: The checkpoint does not match the model; ``deploy_form`` is
            True when mmghost's backbone recognised the re-parameterized form of a
            training-form model (:func:`load_model` checks that by loading it).

    Returns:
        dict: The loaded checkpoint (``meta`` and ``state_dict``).
    """
    from mmengine.runner import load_checkpoint

    from mmghost.utils import setup_runtime
    setup_runtime()
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    try:
        return load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                               logger='silent')
    except (RuntimeError, ValueError, KeyError) as e:
        msg = str(e)
        deploy_form = 'the weights are the deploy (re-parameterized) form' in msg
        raise CheckpointFormError(
            f'{checkpoint} does not match the model of the config: {_shorten(msg)}',
            deploy_form) from e


def _shorten(msg: str, max_lines: int = 8, max_chars: int = 300) -> str:
    """The first lines of a long load error (mmengine lists every mismatching key)."""
    lines = [ln for ln in msg.strip().splitlines() if ln.strip()]
    out = [ln if len(ln) <= max_chars else ln[:max_chars] + ' ...' for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        out.append(f'... ({len(lines) - max_lines} more lines)')
    return '\n'.join(out)


def load_deploy_form(cfg, checkpoint: str) -> Optional[Tuple[nn.Module, Dict[str, Any]]]:
    """``(deploy model, checkpoint dict)`` when ``checkpoint`` loads strictly into the deploy
    form of ``cfg`` (:func:`make_deploy_config`), else None (also when ``cfg`` has nothing
    to re-parameterize)."""
    dcfg, changed = make_deploy_config(cfg)
    if not changed:
        return None
    deployed = build_model(dcfg)
    try:
        return deployed, load_weights(deployed, checkpoint)
    except CheckpointFormError:
        return None


def load_model(cfg, checkpoint: str) -> Tuple[nn.Module, Dict[str, Any]]:
    """Build ``cfg``'s model and load ``checkpoint`` whichever form it is in.

    A training-form checkpoint loads into the config's model; a deploy-form (re-parameterized)
    one into the model of :func:`make_deploy_config`.

    Returns:
        tuple: ``(model, checkpoint_dict)``, the model in eval mode.

    Raises:
        CheckpointFormError: The checkpoint fits neither form (the training form's error).
    """
    model = build_model(cfg)
    try:
        return model, load_weights(model, checkpoint)
    except CheckpointFormError as e:
        error = e
    loaded = load_deploy_form(cfg, checkpoint)
    if loaded is None:
        raise error
    return loaded


def is_detector(model: nn.Module) -> bool:
    """True for mmdet detectors (they need data samples and return head outputs)."""
    return type(model).__module__.startswith('mmdet.') or hasattr(model, 'bbox_head') or \
        hasattr(model, 'rpn_head')


def det_samples(x: torch.Tensor) -> list:
    """Data samples of a batch of unscaled, unpadded ``x.shape[-2:]`` images (detectors)."""
    from mmdet.structures import DetDataSample
    h, w = x.shape[-2:]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                scale_factor=(1.0, 1.0))
    return [DetDataSample(metainfo=meta) for _ in range(x.shape[0])]


def _flatten(out) -> List[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _flatten(out[k])]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    return []


@torch.no_grad()
def tensor_outputs(model: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    """The raw outputs of ``model`` on a normalized batch ``x``, flattened to a list.

    Classifiers: the logits (``mode='tensor'``). Single-stage detectors: the head outputs of
    ``mode='tensor'`` (scores and box deltas per level). Two-stage detectors: the neck
    features and the RPN head outputs (their RoI outputs depend on a top-k proposal choice
    that ties can reorder). Plain modules (a backbone): their outputs.
    """
    if not hasattr(model, 'data_preprocessor'):
        return _flatten(model(x))
    if is_detector(model):
        if getattr(model, 'with_rpn', False) or hasattr(model, 'roi_head'):
            feats = model.extract_feat(x)
            return _flatten(feats) + _flatten(model.rpn_head(feats))
        return _flatten(model(x, det_samples(x), mode='tensor'))
    return _flatten(model(x, mode='tensor'))


def max_relative_difference(expected: Sequence[torch.Tensor],
                            actual: Sequence[torch.Tensor]) -> float:
    """``max over outputs of max|a - e| / max|e|`` (each output relative to its own scale).

    Raises:
        ValueError: The two lists differ in length or in a tensor's shape.
    """
    expected, actual = list(expected), list(actual)
    if len(expected) != len(actual) or not expected:
        raise ValueError(f'cannot compare {len(expected)} outputs with {len(actual)}')
    worst = 0.0
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e.shape != a.shape:
            raise ValueError(f'output {i} has shape {tuple(a.shape)}, expected '
                             f'{tuple(e.shape)}')
        if e.numel() == 0:
            continue
        scale = e.abs().max().clamp_min(1e-12)
        worst = max(worst, ((a.float() - e.float()).abs().max() / scale).item())
    return worst


def normalized_input(shape: Union[int, Sequence[int]], batch_size: int = 2,
                     seed: int = 0) -> torch.Tensor:
    """A seeded ``N x 3 x H x W`` standard-normal batch (an already-normalized image)."""
    if isinstance(shape, int):
        shape = (shape, shape)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, *shape, generator=g)
