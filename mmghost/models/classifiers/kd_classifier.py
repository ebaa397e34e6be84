"""An mmpretrain ImageClassifier trained with knowledge distillation from frozen teachers."""
import copy
import os.path as osp
from typing import Dict, List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmghost.registry import MODELS
from ..layers import switch_to_deploy
from ..utils import tensor_forward

try:
    from mmpretrain.models import ImageClassifier
except ImportError as e:  # pragma: no cover - mmpretrain is a runtime requirement
    raise ImportError('mmghost.KDImageClassifier needs mmpretrain') from e

__all__ = ['KDImageClassifier', 'kd_loss', 'build_teacher']

_TEACHER_KEYS = {
    'config', 'checkpoint', 'input_size', 'mean', 'std', 'weight', 'strict', 'reparameterize'
}


def kd_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor,
            tau: float) -> torch.Tensor:
    """``KL(teacher_probs || softmax(student_logits / tau))`` averaged over the batch.

    ``teacher_probs`` are the teachers' softened probabilities (already divided by ``tau``
    before their softmax, averaged over an ensemble).
    """
    log_p_student = F.log_softmax(student_logits.float() / tau, dim=1)
    return F.kl_div(log_p_student, teacher_probs.float(), reduction='batchmean')


def _model_cfg(config: Union[str, dict]) -> Union[dict, nn.Module]:
    """A teacher's model: a model config dict, a config file / ``pkg::`` name, or an
    mmpretrain model name (built without weights)."""
    if isinstance(config, nn.Module):
        return config
    if isinstance(config, dict):
        return copy.deepcopy(config)
    if not isinstance(config, str):
        raise TypeError(f'a teacher config must be a dict, a config file or an mmpretrain '
                        f'model name, not {type(config).__name__}')
    from mmengine.config import Config
    if config.endswith('.py') or '::' in config:
        if '::' in config:
            from mmengine.hub import get_config
            cfg = get_config(config)
        elif not osp.isfile(config):
            raise FileNotFoundError(f'teacher config {config!r} does not exist')
        else:
            cfg = Config.fromfile(config)
        if 'model' not in cfg:
            raise ValueError(f'teacher config {config!r} has no `model`')
        return cfg.model.to_dict()
    from mmpretrain import get_model
    try:
        return get_model(config, pretrained=False)
    except ValueError as e:
        raise ValueError(f'{config!r} is neither a config file nor an mmpretrain model '
                         f'name ({e})') from None


def build_teacher(cfg: dict) -> nn.Module:
    """Builds one frozen teacher from its entry in ``teachers`` (see KDImageClassifier)."""
    from mmengine.registry import DefaultScope
    from mmengine.registry import MODELS as ROOT
    model = _model_cfg(cfg['config'])
    if isinstance(model, dict):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = ROOT.build(model)
    checkpoint = cfg.get('checkpoint')
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'teacher checkpoint {checkpoint!r} does not exist')
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu',
                        strict=cfg.get('strict', True), logger='silent')
    model.eval()
    if cfg.get('reparameterize', True):
        # Frozen and in eval mode, a re-parameterizable teacher gives the same logits fused,
        # and runs faster (a no-op for models without such blocks).
        switch_to_deploy(model)
    model.requires_grad_(False)  # after fusing: the fused convs are new parameters
    return model


@MODELS.register_module()
class KDImageClassifier(ImageClassifier):
    """ImageClassifier whose training loss distills one or more frozen teachers.

    The loss is GhostNetV3's Eq. 3-4: ``(1 - alpha) * CE(student, y) + alpha * tau**2 *
    KL(p_t || softmax(student / tau))`` with ``p_t`` the teachers' softened probabilities
    (``softmax(teacher / tau)``, a weighted mean over an ensemble) and KL averaged over the
    batch. It is logged as ``loss_cls`` (the head's loss, so label smoothing or Mixup targets
    apply as usual) and ``loss_kd``; ``alpha=0`` gives the plain classifier's loss.

    Teachers are not sub-modules: they are not in ``state_dict`` (a checkpoint of a KD run
    loads strictly into the plain student config), not in ``parameters()`` (so neither the
    optimizer nor EMA sees them), not touched by ``init_weights``, always in eval mode and run
    under ``no_grad``. ``to()``/``cuda()`` move them with the student, and a deep copy (EMA)
    shares them instead of copying.

    Args:
        teachers (list[dict]): Each ``dict(config, checkpoint=None, input_size=None,
            mean=None, std=None, weight=1.0, strict=True, reparameterize=True)``: ``config``
            is a model config dict, a config file (``mmpretrain::`` names too) or an
            mmpretrain model name; ``checkpoint`` a local file; ``input_size`` ``(H, W)``
            resizes the student's input (bilinear) for this teacher; ``mean``/``std``
            re-normalize the input for it (the student's preprocessor normalization is
            undone first); ``weight`` is its share of an ensemble; ``reparameterize``
            (default True) fuses a GhostNetV3 / RepGhost teacher after loading (same
            logits, faster). A teacher-assistant chain is two runs: the TA distilled from
            the teacher, then the student with the TA's checkpoint as its teacher.
        alpha (float): Weight of the KD term, in [0, 1]. Defaults to 0.5.
        tau (float): Softmax temperature, > 0. Defaults to 1.0.
        **kwargs: ImageClassifier's arguments (backbone, neck, head, data_preprocessor, ...).
    """

    def __init__(self, teachers: Sequence[dict] = (), alpha: float = 0.5, tau: float = 1.0,
                 **kwargs):
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if not tau > 0:
            raise ValueError(f'tau must be positive, got {tau}')
        if isinstance(teachers, dict):
            teachers = [teachers]
        if alpha > 0 and not teachers:
            raise ValueError('KDImageClassifier with alpha > 0 needs at least one teacher')
        for i, t in enumerate(teachers):
            if not isinstance(t, dict) or 'config' not in t:
                raise ValueError(f'teachers[{i}] must be a dict with a `config` key, got {t!r}')
            unknown = set(t) - _TEACHER_KEYS
            if unknown:
                raise ValueError(f'teachers[{i}] has unknown key(s) {sorted(unknown)}; '
                                 f'expected some of {sorted(_TEACHER_KEYS)}')
            if (t.get('mean') is None) != (t.get('std') is None):
                raise ValueError(f'teachers[{i}]: give both `mean` and `std`, or neither')
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.tau = float(tau)
        self.teacher_cfgs = [dict(t) for t in teachers]
        total = sum(float(t.get('weight', 1.0)) for t in teachers) or 1.0
        self.teacher_weights = [float(t.get('weight', 1.0)) / total for t in teachers]
        # Stored outside nn.Module's registries on purpose (see the class docstring).
        object.__setattr__(self, '_teachers', [build_teacher(t) for t in teachers])

    @property
    def teachers(self) -> List[nn.Module]:
        return self._teachers

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for t in self._teachers:
            t._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        for t in self._teachers:
            t.eval()
        return self

    def __deepcopy__(self, memo):
        # EMA and other copies share the frozen teachers instead of duplicating them.
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, v if k == '_teachers' else copy.deepcopy(v, memo))
        return new

    def _teacher_input(self, inputs: torch.Tensor, cfg: dict) -> torch.Tensor:
        x = inputs
        if cfg.get('mean') is not None:
            pre = self.data_preprocessor
            if getattr(pre, '_enable_normalize', False):
                x = x * pre.std + pre.mean
            mean = x.new_tensor(cfg['mean']).view(1, -1, 1, 1)
            std = x.new_tensor(cfg['std']).view(1, -1, 1, 1)
            x = (x - mean) / std
        size = cfg.get('input_size')
        if size is not None:
            size = (size, size) if isinstance(size, int) else tuple(size)
            if tuple(x.shape[-2:]) != size:
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return x

    @torch.no_grad()
    def teacher_probs(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teachers' softened probabilities, ``sum_i w_i softmax(teacher_i / tau)``."""
        probs = None
        for i, (teacher, cfg, w) in enumerate(
                zip(self._teachers, self.teacher_cfgs, self.teacher_weights)):
            teacher.eval()
            x = self._teacher_input(inputs, cfg)
            logits = tensor_forward(teacher, x)
            if isinstance(logits, (tuple, list)):
                logits = logits[-1]
            p = F.softmax(logits.float() / self.tau, dim=1) * w
            if probs is not None and p.shape != probs.shape:
                raise ValueError(f'teacher {i} predicts {p.shape[1]} classes but teacher 0 '
                                 f'predicts {probs.shape[1]}')
            probs = p if probs is None else probs + p
        return probs

    def loss(self, inputs: torch.Tensor, data_samples: list) -> Dict[str, torch.Tensor]:
        feats = self.extract_feat(inputs)
        cls_score = self.head(feats)
        losses = self.head._get_loss(cls_score, data_samples)
        ce = losses.pop('loss')
        out = dict(loss_cls=(1 - self.alpha) * ce if self.alpha else ce)
        out.update(losses)  # anything else the head logs (accuracy under mixup, ...)
        if self.alpha > 0:
            p_t = self.teacher_probs(inputs)
            if p_t.shape != cls_score.shape:
                raise ValueError(f'the teachers predict {p_t.shape[1]} classes, the student '
                                 f'{cls_score.shape[1]}')
            out['loss_kd'] = self.alpha * self.tau**2 * kd_loss(cls_score, p_t, self.tau)
        return out
