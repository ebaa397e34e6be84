"""Re-parameterized (deploy) form of a config's model: building it, loading a checkpoint in
either form, fusing a trained checkpoint, and checking that the fused model computes the same.

``tools/model_converters/reparameterize.py``, ``tools/misc/check_deploy.py`` and
``tools/deployment/pytorch2onnx.py`` are thin command lines over these functions.
"""
import copy
import inspect
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmghost.checkpoint.atomic import save_atomic
from mmghost.models.layers.reparam import (RepModuleMixin, is_deployed,
                                           pending_reparam_modules, switch_to_deploy)
from mmghost.models.utils import (build_from_config, default_scope, flatten_tensors,
                                  is_detector, load_config, seeded_input, tensor_forward)

__all__ = [
    'CheckpointFormError', 'DeployError', 'reparameterizable_parts', 'make_deploy_config',
    'load_weights', 'load_deploy_form', 'load_model', 'tensor_outputs',
    'max_relative_difference', 'reparameterize_checkpoint', 'compare_forms'
]


class DeployError(ValueError):
    """A model or checkpoint cannot be re-parameterized or exported; nothing was written."""


class CheckpointFormError(ValueError):
    """The checkpoint does not fit the model (wrong form or wrong model).

    ``deploy_form`` is True when the checkpoint is the re-parameterized form of the model.
    """

    def __init__(self, message: str, deploy_form: bool = False):
        super().__init__(message)
        self.deploy_form = deploy_form


def _is_reparameterizable(cls) -> bool:
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
    deployed = build_from_config(dcfg)
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
    model = build_from_config(cfg)
    try:
        return model, load_weights(model, checkpoint)
    except CheckpointFormError as e:
        error = e
    loaded = load_deploy_form(cfg, checkpoint)
    if loaded is None:
        raise error
    return loaded


@torch.no_grad()
def tensor_outputs(model: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    """The raw outputs of ``model`` on a normalized batch ``x``, flattened to a list.

    Classifiers: the logits (``mode='tensor'``). Single-stage detectors: the head outputs of
    ``mode='tensor'`` (scores and box deltas per level). Two-stage detectors: the neck
    features and the RPN head outputs (their RoI outputs depend on a top-k proposal choice
    that ties can reorder). Plain modules (a backbone): their outputs.
    """
    if is_detector(model) and (getattr(model, 'with_rpn', False) or hasattr(model, 'roi_head')):
        feats = model.extract_feat(x)
        return flatten_tensors(feats) + flatten_tensors(model.rpn_head(feats))
    return flatten_tensors(tensor_forward(model, x))


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


def reparameterize_checkpoint(config: str, checkpoint: str, out: str, deploy_config=None,
                              shape=(224, 224), batch_size: int = 2, rtol: float = 1e-4,
                              cfg_options=None, log=print) -> float:
    """Fuse ``checkpoint`` into ``out`` and verify it against the training form.

    Args:
        config (str): Training-form config.
        checkpoint (str): Training-form checkpoint of ``config``.
        out (str): Output path of the deploy checkpoint.
        deploy_config (str, optional): Deploy-form config; by default ``config`` with
            ``deploy=True`` on every re-parameterizable part (:func:`make_deploy_config`).
        shape (tuple[int, int]): H, W of the random verification batch.
        batch_size (int): Size of the verification batch.
        rtol (float): Largest accepted relative output difference.
        cfg_options (dict, optional): Overrides merged into both configs.
        log (callable): Receives the report lines. Defaults to ``print``.

    Returns:
        float: The largest relative difference between the two models' outputs.

    Raises:
        DeployError: With a message, when the checkpoint or model cannot be re-parameterized
            or the verification fails (``out`` is then not left behind).
    """
    cfg = load_config(config, cfg_options)
    model = build_from_config(cfg)
    name = type(getattr(model, 'backbone', model)).__name__
    if not pending_reparam_modules(model):
        if reparameterizable_parts(cfg):
            raise DeployError(f'{config} already builds the deploy form of {name} '
                              f'(deploy=True): pass the training-form config; nothing written')
        raise DeployError(f'{name} has nothing to re-parameterize (no re-parameterizable '
                          f'blocks): {checkpoint} already is its inference form; nothing '
                          f'written')
    try:
        ckpt = load_weights(model, checkpoint)
    except FileNotFoundError as e:
        raise DeployError(f'{e}; nothing written')
    except CheckpointFormError as e:
        if e.deploy_form or load_deploy_form(cfg, checkpoint) is not None:
            raise DeployError(f'{checkpoint} is already in deploy (re-parameterized) form: '
                              f'nothing to do (test it with the deploy config); nothing '
                              f'written')
        raise DeployError(f'{e}\nnothing written')
    model.eval()
    fused = switch_to_deploy(copy.deepcopy(model))
    if not is_deployed(fused) or pending_reparam_modules(fused):  # pragma: no cover
        raise DeployError(f'switch_to_deploy left blocks unfused: '
                          f'{pending_reparam_modules(fused)}')
    n_train = sum(p.numel() for p in model.parameters())
    n_deploy = sum(p.numel() for p in fused.parameters())
    meta = dict(ckpt.get('meta', None) or {})
    meta['reparameterized'] = dict(source=osp.basename(checkpoint), tool='mmghost.reparameterize')
    state_dict = {k: v.detach().cpu() for k, v in fused.state_dict().items()}
    save_atomic(dict(meta=meta, state_dict=state_dict), out)
    del fused

    try:
        if deploy_config is not None:
            dcfg = load_config(deploy_config, cfg_options)
            dname = deploy_config
        else:
            dcfg, changed = make_deploy_config(cfg)
            dname = f'{config} with {", ".join(k + "=True" for k in changed)}'
        deployed = build_from_config(dcfg)
        if pending_reparam_modules(deployed):
            raise DeployError(f'the deploy config {dname} builds blocks in training form: '
                              f'{pending_reparam_modules(deployed)[:3]}')
        try:
            load_weights(deployed, out)
        except CheckpointFormError as e:
            raise DeployError(f'the fused checkpoint does not load into the deploy config '
                              f'{dname}: {e}')
        deployed.eval()
        x = seeded_input(tuple(shape), batch_size)
        with torch.no_grad():
            diff = max_relative_difference(tensor_outputs(model, x), tensor_outputs(deployed, x))
    except BaseException:
        if osp.exists(out):
            os.remove(out)
        raise
    log(f'{name}: params {n_train:,} -> {n_deploy:,}; deploy config {dname}')
    log(f'max relative difference of the outputs (fused vs original, input '
        f'{batch_size}x3x{shape[0]}x{shape[1]}): {diff:.3e} (rtol {rtol:g})')
    if not diff <= rtol:
        os.remove(out)
        raise DeployError(f'FAILED: the fused model differs from the original by {diff:.3e} '
                          f'> {rtol:g}; {out} removed')
    log(f'saved {out}')
    return diff


@torch.no_grad()
def compare_forms(config, checkpoint: str, max_batches: Optional[int] = None,
                  cfg_options: Optional[dict] = None) -> Dict[str, float]:
    """Run a classifier's validation set through its training form and its fused copy.

    Returns:
        dict: ``images``, ``top1_train`` and ``top1_deploy`` (%), ``same`` (% identical
        predictions), ``max_rel_diff`` (largest relative logit difference), ``params_train``
        and ``params_deploy``.

    Raises:
        DeployError: The checkpoint does not load into the config's training form.
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    model = build_from_config(cfg)
    try:
        load_weights(model, checkpoint)
    except (CheckpointFormError, FileNotFoundError) as e:  # e.g. already in deploy form
        raise DeployError(str(e)) from e
    model.eval()
    deployed = switch_to_deploy(copy.deepcopy(model)).eval()
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        loader = Runner.build_dataloader(cfg.val_dataloader)
    n_train = n_deploy = n_same = total = 0
    worst = 0.0
    for i, data in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        data = model.data_preprocessor(data, False)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        a, = tensor_outputs(model, data['inputs'])
        b, = tensor_outputs(deployed, data['inputs'])
        worst = max(worst, max_relative_difference([a], [b]))
        n_train += (a.argmax(1) == labels).sum().item()
        n_deploy += (b.argmax(1) == labels).sum().item()
        n_same += (a.argmax(1) == b.argmax(1)).sum().item()
        total += labels.numel()
    return dict(images=total, top1_train=100 * n_train / total,
                top1_deploy=100 * n_deploy / total, same=100 * n_same / total,
                max_rel_diff=worst,
                params_train=sum(p.numel() for p in model.parameters()),
                params_deploy=sum(p.numel() for p in deployed.parameters()))
