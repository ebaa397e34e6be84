"""Convert published GhostNet-family checkpoints into mmghost (mmpretrain) checkpoints.

Sources (key names: ``../shared/spec/ghostnet_family.md`` §2.4, §3, §4.7, §4.8, §5.5, §8):

* GhostNet V1: the official ``state_dict_73.98.pth`` (a flat state_dict) and timm
  ``ghostnet_050/100/130``;
* GhostNetV2: the official ``ck_ghostnetv2_{10,13,16}.pth.tar`` (flat, with thop
  ``total_ops``/``total_params`` buffers) and timm ``ghostnetv2_*``;
* GhostNetV3: the official ``ghostnetv3-1.0.pth.tar`` (``state_dict`` and ``state_dict_ema``;
  ``.bn.`` inside the re-parameterization branches, timm names them ``.bn1.``; thop buffers;
  maybe a ``module.`` prefix), timm ``ghostnetv3_*`` in training form and re-parameterized
  timm/official deploy state_dicts (``primary_conv.0.{weight,bias}``, ...);
* RepGhostNet: the release files (``{'state_dict', 'state_dict_ema'}``, ``module.`` prefixes),
  in training form (``fusion_bn``) or in deploy form (after their ``convert.py``), and timm
  ``repghostnet_*``;
* GhostNetV3-Small (PML code, the official V3 key names; not in timm, so not verified).

Our layout: an mmpretrain ``ImageClassifier`` whose backbone keeps the reference key names
(``backbone.conv_stem``, ``backbone.bn1``, ``backbone.blocks.*``) and whose
``StackedLinearClsHead`` holds the reference head: ``head.layers.0.fc`` is ``conv_head`` (a 1x1
conv with bias, reshaped to a linear weight) and ``head.layers.1.fc`` is ``classifier``.

Nothing is written unless the converted state_dict loads with ``strict=True`` into the
classifier built from our config (and, by default, gives timm's logits); the file is written
to a temporary name in the destination folder and renamed. Checkpoints are read with
``torch.load(weights_only=True)``: only tensors, plain containers and numbers, mmengine's
checkpoint types and ``argparse.Namespace`` (timm's training scripts pickle their command
line with it) are unpickled; anything else is refused before it can run.
"""
import argparse
import copy
import glob
import hashlib
import os.path as osp
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .checkpoint import save_atomic

__all__ = [
    'ConversionError', 'ConversionResult', 'FAMILIES', 'load_checkpoint_safely',
    'select_state_dict', 'normalize_keys', 'detect_layout', 'detect_width', 'to_mmghost',
    'build_classifier', 'find_config', 'verify_with_timm', 'convert_checkpoint'
]


class ConversionError(ValueError):
    """A checkpoint cannot be converted; the message names the problem. Nothing is written."""


@dataclass(frozen=True)
class Family:
    """One backbone family: our registry name, the widths we know, its timm name stem."""
    backbone: str
    widths: Tuple[float, ...]
    reparam: bool
    base_config: str  # under configs/classification/_base_/models/
    config_glob: str  # under configs/classification/, ``{w}`` is the width (repr)
    deploy_glob: Optional[str]
    timm_stem: Optional[str]
    timm_version: Optional[str] = None  # ``version`` of timm's GhostNet class


FAMILIES: Dict[str, Family] = OrderedDict(
    ghostnet=Family('GhostNet', (0.5, 1.0, 1.3, 1.6), False, 'ghostnet.py',
                    'ghostnet/ghostnet-{w}x_*_in1k.py', None, 'ghostnet', 'v1'),
    ghostnetv2=Family('GhostNetV2', (0.5, 1.0, 1.3, 1.6), False, 'ghostnetv2.py',
                      'ghostnetv2/ghostnetv2-{w}x_*_in1k.py', None, 'ghostnetv2', 'v2'),
    ghostnetv3=Family('GhostNetV3', (0.5, 1.0, 1.3, 1.6), True, 'ghostnetv3.py',
                      'ghostnetv3/ghostnetv3-{w}x_*_in1k.py',
                      'ghostnetv3/deploy/ghostnetv3-{w}x_deploy_in1k.py', 'ghostnetv3', 'v3'),
    repghostnet=Family('RepGhostNet', (0.5, 0.58, 0.8, 1.0, 1.11, 1.3, 1.5, 2.0), True,
                       'repghostnet.py', 'repghostnet/repghostnet-{w}x_*_in1k.py',
                       'repghostnet/deploy/repghostnet-{w}x_deploy_in1k.py', 'repghostnet'),
    ghostnetv3_small=Family('GhostNetV3Small', (1.0, 1.3, 1.6, 1.9, 2.2, 2.8, 3.4), True,
                            'ghostnetv3_small.py',
                            'ghostnetv3_small/ghostnetv3-small-{w}x_*_cifar10.py', None, None),
)

_FAMILY_ALIASES = {
    'v1': 'ghostnet', 'ghostnetv1': 'ghostnet', 'v2': 'ghostnetv2', 'v3': 'ghostnetv3',
    'repghost': 'repghostnet', 'ghostnetv3small': 'ghostnetv3_small',
    'v3small': 'ghostnetv3_small'
}

#: Wrapper keys of training checkpoints: (EMA copies, plain copies), in order of preference.
EMA_KEYS = ('state_dict_ema', 'model_ema')
PLAIN_KEYS = ('state_dict', 'model')
#: thop's profiling buffers, left in the official V2/V3 files.
THOP_SUFFIXES = ('total_ops', 'total_params')

_HEAD_MAP = {
    'conv_head.weight': 'head.layers.0.fc.weight',
    'conv_head.bias': 'head.layers.0.fc.bias',
    'classifier.weight': 'head.layers.1.fc.weight',
    'classifier.bias': 'head.layers.1.fc.bias',
}
# timm's ConvBnAct names the BN of V3's re-parameterization branches ``bn1``; the official
# code and mmghost name it ``bn``.
_TIMM_RPR_BN = re.compile(r'(_rpr_conv\.\d+|_rpr_scale)\.bn1\.')


@dataclass
class ConversionResult:
    """What :func:`convert_checkpoint` did (also printed as it goes)."""
    dst: str
    family: str
    width: float
    form: str
    source_form: str
    source_copy: str
    num_classes: Optional[int]
    num_tensors: int
    backbone_only: bool
    config: Optional[str]
    max_rel_diff: Optional[float]
    dropped: List[str] = field(default_factory=list)
    renamed: List[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- reading
def _fmt_width(width: float) -> str:
    return f'{float(width)!r}x'


def _family_key(family: str) -> str:
    key = family.lower().replace('mmghost.', '').replace('-', '_').strip()
    key = _FAMILY_ALIASES.get(key.replace('_', ''), _FAMILY_ALIASES.get(key, key))
    for name, fam in FAMILIES.items():
        if key in (name, fam.backbone.lower()):
            return name
    raise ConversionError(f'unknown family {family!r}; choose one of {list(FAMILIES)}')


def _refusal_message(path: str, error: Exception) -> str:
    text = str(error)
    found = re.search(r'GLOBAL ([\w.]+)', text)
    what = f'the global {found.group(1)!r}' if found else 'a global that is not allowed'
    return (
        f'refusing to load {path}: it needs arbitrary unpickling (it tried to load {what}). '
        f'Checkpoints are read with torch.load(weights_only=True), which allows only tensors, '
        f'plain containers and numbers (plus mmengine checkpoint types and argparse.Namespace), '
        f'because unpickling anything else can execute code. If you trust the file, re-save '
        f'only its tensors in a separate Python session, e.g. '
        f'`ck = torch.load(SRC, weights_only=False); torch.save({{k: ck[k] for k in '
        f'("state_dict", "state_dict_ema") if k in ck}}, "clean.pth")` (for a pickled model: '
        f'`torch.save(ck.state_dict(), "clean.pth")`), and convert clean.pth.')


def load_checkpoint_safely(path: str) -> object:
    """Read a checkpoint without executing pickled code.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(path, map_location='cpu', weights_only=True)``, allowing mmengine's
    checkpoint globals (:func:`mmghost.utils.mmengine_safe_globals`) and
    ``argparse.Namespace`` for this call only.

    Args:
        path (str): The checkpoint file.

    Returns:
        object: What the file holds (a state_dict or a wrapper dict).

    Raises:
        ConversionError: The file is missing, needs arbitrary unpickling (the message names
            the global and says how to re-save the tensors), or is corrupt/truncated.
    """
    if not osp.isfile(path):
        raise ConversionError(f'checkpoint not found: {path}')
    size = osp.getsize(path)
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
            return load_file(path, device='cpu')
        except Exception as e:  # noqa: BLE001 - any reader failure means a bad file
            raise ConversionError(f'cannot read {path} ({size} bytes) as a safetensors file '
                                  f'(corrupt or truncated?): {type(e).__name__}: {e}') from e
    from .checkpoint import mmengine_safe_globals
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals() + [argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        if 'GLOBAL' in str(e) or 'global' in str(e):
            raise ConversionError(_refusal_message(path, e)) from None
        raise ConversionError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {e}') from None
    except Exception as e:  # noqa: BLE001 - zip/pickle readers raise many types on bad files
        msg = str(e).split('\n')[0].split('. ')[0][:300]
        raise ConversionError(f'cannot read {path} ({size} bytes) as a PyTorch checkpoint '
                              f'(corrupt or truncated?): {type(e).__name__}: {msg}') from None


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _describe(value) -> str:
    if isinstance(value, dict):
        return f'{len(value)} entries'
    if isinstance(value, torch.Tensor):
        return 'a tensor'
    return type(value).__name__


def select_state_dict(ckpt, ema: Optional[bool] = None
                      ) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """Pick the weights to convert out of a flat state_dict or a training wrapper.

    Args:
        ckpt (object): What :func:`load_checkpoint_safely` returned.
        ema (bool, optional): ``True`` takes the EMA copy (``state_dict_ema``), ``False`` the
            plain one (``state_dict``). ``None`` prefers the EMA copy when there is one (the
            GhostNetV3 paper's 77.1% are the EMA weights; timm's ``ghostnetv3_100.in1k`` is the
            plain copy).

    Returns:
        tuple: ``(state_dict, which copy, what was dropped)``.
    """
    if not isinstance(ckpt, dict):
        raise ConversionError(f'expected a state_dict or a dict wrapping one, got '
                              f'{type(ckpt).__name__}')
    if _is_state_dict(ckpt):
        if ema:
            raise ConversionError('--ema was given, but the file is a flat state_dict with no '
                                  'state_dict_ema copy; drop --ema')
        return dict(ckpt), 'flat state_dict', []
    ema_key = next((k for k in EMA_KEYS if _is_state_dict(ckpt.get(k))), None)
    plain_key = next((k for k in PLAIN_KEYS if _is_state_dict(ckpt.get(k))), None)
    if ema_key is None and plain_key is None:
        # A flat state_dict with a few non-tensor entries (e.g. thop's counters as ints).
        tensors = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(ckpt) / 2 and not ema:
            dropped = [f'{k} ({_describe(v)}, not a tensor)' for k, v in ckpt.items()
                       if not isinstance(v, torch.Tensor)]
            return tensors, 'flat state_dict', dropped
        raise ConversionError(
            f'found no weights: the file is a dict with keys {sorted(map(str, ckpt))[:12]}, '
            f'none of them a state_dict ({", ".join(EMA_KEYS + PLAIN_KEYS)})')
    if ema is True and ema_key is None:
        raise ConversionError(f'--ema was given, but the file has no EMA copy (keys: '
                              f'{sorted(map(str, ckpt))})')
    if ema is False and plain_key is None:
        raise ConversionError(f'--no-ema was given, but the file has only the EMA copy '
                              f'{ema_key!r}; drop --no-ema')
    chosen = plain_key if ema is False or ema_key is None else ema_key
    dropped = []
    for k, v in ckpt.items():
        if k == chosen:
            continue
        if k in (ema_key, plain_key):
            label = 'the unused non-EMA copy' if k == plain_key else 'the unused EMA copy'
            dropped.append(f'{k} ({label}, {len(v)} tensors)')
        else:
            dropped.append(f'{k} ({_describe(v)})')
    return dict(ckpt[chosen]), chosen, dropped


def normalize_keys(state_dict: Dict[str, torch.Tensor]
                   ) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Reference key names: strip ``module.``, drop thop buffers, ``.bn1.`` -> ``.bn.``.

    Returns:
        tuple: ``(state_dict, dropped, renamed)`` (the last two are report lines).
    """
    out: Dict[str, torch.Tensor] = OrderedDict()
    n_module = n_bn = 0
    thop: List[str] = []
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
            n_module += 1
        if key.rsplit('.', 1)[-1] in THOP_SUFFIXES:
            thop.append(key)
            continue
        new = _TIMM_RPR_BN.sub(r'\1.bn.', key)
        n_bn += new != key
        if new in out:
            raise ConversionError(f'key {new!r} occurs twice after normalizing key names')
        out[new] = value
    dropped = [f'{len(thop)} thop buffers (*.total_ops, *.total_params)'] if thop else []
    renamed = []
    if n_module:
        renamed.append(f"'module.' prefix stripped ({n_module} keys)")
    if n_bn:
        renamed.append(f"timm's '.bn1.' -> '.bn.' inside the re-parameterization branches "
                       f'({n_bn} keys)')
    return out, dropped, renamed


# ----------------------------------------------------------------------------- detection
def _num_stages(keys) -> int:
    idx = [int(m.group(1)) for m in (re.match(r'blocks\.(\d+)\.', k) for k in keys) if m]
    return max(idx) + 1 if idx else 0


def detect_layout(state_dict: Dict[str, torch.Tensor]) -> Tuple[str, str]:
    """Family key (of :data:`FAMILIES`) and form (``'train'`` / ``'deploy'``) from key names.

    ``_rpr_`` branches mean GhostNetV3 in training form; ``fusion_bn`` RepGhostNet in
    training form; a bare ``cheap_operation.weight`` RepGhostNet in deploy form; a
    ``primary_conv.0.bias`` (a fused conv) GhostNetV3 in deploy form; ``short_conv`` (DFC
    attention) GhostNetV2; plain Ghost modules GhostNet V1. V1/V2 have only one form,
    reported as ``'train'``. GhostNetV3-Small is told from GhostNetV3 by its 8 stages.
    """
    keys = list(state_dict)
    if 'conv_stem.weight' not in state_dict or not any(k.startswith('blocks.') for k in keys):
        if any(k.startswith('backbone.') for k in keys):
            raise ConversionError('the keys start with "backbone.": this already is an '
                                  'mmghost/mmpretrain checkpoint, nothing to convert')
        raise ConversionError(
            f'this is not a GhostNet-family checkpoint: it has no conv_stem.weight and '
            f'blocks.* keys (found {len(keys)} keys such as {keys[:4]})')

    def has(pattern: str) -> bool:
        return any(re.search(pattern, k) for k in keys)

    small = _num_stages(keys) == 8
    if has(r'_rpr_(conv|scale|skip)\.'):
        return ('ghostnetv3_small' if small else 'ghostnetv3'), 'train'
    if has(r'\.fusion_bn\.'):
        return 'repghostnet', 'train'
    if has(r'\.ghost\d\.cheap_operation\.weight$'):
        return 'repghostnet', 'deploy'
    if has(r'\.ghost\d\.primary_conv\.0\.bias$'):
        return ('ghostnetv3_small' if small else 'ghostnetv3'), 'deploy'
    if has(r'\.ghost\d\.short_conv\.'):
        return 'ghostnetv2', 'train'
    if has(r'\.ghost\d\.primary_conv\.0\.weight$'):
        return 'ghostnet', 'train'
    raise ConversionError('the file has conv_stem and blocks.* keys but no Ghost module '
                          '(ghost1.primary_conv, ghost1.*_rpr_*, ...): not a GhostNet-family '
                          'layout this converter knows')


def _final_channels(family: str, width: float) -> int:
    import mmghost.models as models
    from mmghost.models.layers import make_divisible
    cls = getattr(models, FAMILIES[family].backbone)
    settings = next(iter(cls.arch_settings.values()))
    last_mid = settings['blocks'][-1][-1][1]
    return make_divisible(last_mid * width * settings.get('final_expand', 1), 4)


def _final_conv_key(state_dict) -> str:
    return f'blocks.{_num_stages(state_dict) - 1}.0.conv.weight'


def detect_width(state_dict: Dict[str, torch.Tensor], family: str) -> Optional[float]:
    """The released width whose final 1x1 conv (``960·w`` channels) matches, or None."""
    key = _final_conv_key(state_dict)
    if key not in state_dict:
        raise ConversionError(f'cannot tell the width: the file has no {key} (the final 1x1 '
                              f'ConvBnAct); pass --width if the file is otherwise complete')
    channels = state_dict[key].shape[0]
    for w in FAMILIES[family].widths:
        if _final_channels(family, w) == channels:
            return w
    return None


def _width_story(state_dict, family: str) -> str:
    fam = FAMILIES[family]
    key = _final_conv_key(state_dict)
    if key not in state_dict:
        return f'{fam.backbone} of unknown width (no {key})'
    channels = state_dict[key].shape[0]
    w = detect_width(state_dict, family)
    if w is not None:
        return f'{fam.backbone} {_fmt_width(w)} (final 1x1 conv: {channels} channels)'
    known = ', '.join(f'{_fmt_width(x)}: {_final_channels(family, x)}' for x in fam.widths)
    return (f'{fam.backbone} of a width that is not released (final 1x1 conv: {channels} '
            f'channels; {known})')


# ----------------------------------------------------------------------------- mapping
def to_mmghost(state_dict: Dict[str, torch.Tensor], backbone_only: bool = False
               ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], List[str], List[str]]:
    """Reference keys -> classifier keys (``backbone.*``, ``head.layers.{0,1}.fc.*``).

    Returns:
        tuple: ``(state_dict, our key -> source key, dropped, renamed)``.
    """
    out: Dict[str, torch.Tensor] = OrderedDict()
    origin: Dict[str, str] = {}
    head = {k: v for k, v in state_dict.items() if k in _HEAD_MAP}
    other_head = [k for k in state_dict
                  if k.split('.')[0] in ('conv_head', 'classifier') and k not in _HEAD_MAP]
    if other_head:
        raise ConversionError(f'unexpected head keys {other_head}: expected conv_head.{{weight,'
                              f'bias}} and classifier.{{weight,bias}}')
    for key, value in state_dict.items():
        if key in _HEAD_MAP:
            continue
        out['backbone.' + key] = value
        origin['backbone.' + key] = key
    dropped: List[str] = []
    renamed = [f"backbone keys prefixed with 'backbone.' ({len(out)} keys)"]
    if backbone_only:
        if head:
            dropped.append(f'the classification head ({", ".join(head)}): --backbone-only')
        return out, origin, dropped, renamed
    missing = [k for k in _HEAD_MAP if k not in head]
    if missing:
        raise ConversionError(f'the file has no complete classification head (missing '
                              f'{missing}); convert it with --backbone-only')
    weight = head['conv_head.weight']
    if weight.dim() == 4:
        if weight.shape[2:] != (1, 1):
            raise ConversionError(f'conv_head.weight should be a 1x1 conv, got shape '
                                  f'{list(weight.shape)}')
        renamed.append(f'conv_head -> head.layers.0.fc (weight reshaped {list(weight.shape)} '
                       f'-> {list(weight.shape[:2])})')
        weight = weight.reshape(weight.shape[:2])
    else:
        renamed.append('conv_head -> head.layers.0.fc')
    renamed.append('classifier -> head.layers.1.fc')
    for src_key, dst_key in _HEAD_MAP.items():
        out[dst_key] = weight if src_key == 'conv_head.weight' else head[src_key]
        origin[dst_key] = src_key
    return out, origin, dropped, renamed


# ----------------------------------------------------------------------------- models
def _configs_root() -> Optional[str]:
    import mmghost
    pkg = osp.dirname(osp.abspath(mmghost.__file__))
    for root in (osp.join(pkg, '.mim', 'configs'), osp.join(osp.dirname(pkg), 'configs')):
        if osp.isdir(osp.join(root, 'classification')):
            return root
    return None


def find_config(family: str, width: float, deploy: bool = False) -> Optional[str]:
    """Our classification config for ``family`` at ``width`` (relative to ``configs/``)."""
    root = _configs_root()
    fam = FAMILIES[family]
    pattern = fam.deploy_glob if deploy else fam.config_glob
    if root is None or pattern is None:
        return None
    hits = sorted(p for p in glob.glob(
        osp.join(root, 'classification', pattern.format(w=repr(float(width)))))
        if '_kd' not in osp.basename(p))
    return osp.relpath(hits[0], root) if hits else None


def build_classifier(family: str, width: float, deploy: bool = False,
                     num_classes: int = 1000, hidden: int = 1280) -> torch.nn.Module:
    """Our mmpretrain classifier for ``family`` at ``width`` (``configs/.../_base_/models``).

    Args:
        family (str): A key of :data:`FAMILIES`.
        width (float): ``widen_factor``.
        deploy (bool): Build the re-parameterized form (GhostNetV3, RepGhostNet, V3-Small).
        num_classes (int): Classes of the head. Defaults to 1000.
        hidden (int): Width of the head's hidden layer (the reference ``conv_head``).
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS

    from mmghost.models.layers import make_divisible
    fam = FAMILIES[family]
    root = _configs_root()
    if root is None:
        raise ConversionError('cannot find mmghost\'s configs/ folder')
    cfg = Config.fromfile(osp.join(root, 'classification', '_base_', 'models',
                                   fam.base_config))
    model = copy.deepcopy(cfg.model)
    model.backbone.update(widen_factor=float(width), init_cfg=None)
    if fam.reparam:
        model.backbone['deploy'] = bool(deploy)
    last = _final_channels(family, width)
    assert last == make_divisible(last, 4)
    model.head.update(in_channels=last, num_classes=int(num_classes), mid_channels=[hidden])
    model.data_preprocessor['num_classes'] = int(num_classes)
    return MODELS.build(model)


def _check_against(expected: Dict[str, torch.Tensor], state_dict: Dict[str, torch.Tensor],
                   origin: Dict[str, str], what: str, src: str) -> None:
    """Every key present, none extra, every shape equal; a message that says which."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [k for k in expected if k in state_dict and
              tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return

    def src_name(k):
        return origin.get(k, k[len('backbone.'):] if k.startswith('backbone.') else k)

    def listing(keys, n=6):
        shown = ', '.join(src_name(k) for k in keys[:n])
        return shown + (f', ... ({len(keys) - n} more)' if len(keys) > n else '')

    parts = []
    if missing:
        parts.append(f'{len(missing)} missing key(s): {listing(missing)}')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected key(s): {listing(unexpected)}')
    if shapes:
        detail = '; '.join(f'{src_name(k)}: file {list(state_dict[k].shape)} vs model '
                           f'{list(expected[k].shape)}' for k in shapes[:4])
        parts.append(f'{len(shapes)} shape mismatch(es): {detail}' +
                     (' ...' if len(shapes) > 4 else ''))
    raise ConversionError(f'{src} does not match {what}: ' + '; '.join(parts) +
                          ' (key names as in the source file)')


# ----------------------------------------------------------------------------- verification
def _timm_model(family: str, width: float, num_classes: int):
    import timm
    fam = FAMILIES[family]
    if fam.timm_stem is None:
        return None, None
    name = f'{fam.timm_stem}_{int(round(width * 100)):03d}'
    if timm.is_model(name):
        return timm.create_model(name, pretrained=False, num_classes=num_classes), name
    if fam.timm_version is not None:  # e.g. ghostnet_160, ghostnetv2_050: same class, width
        from timm.models.ghostnet import GhostNet as TimmGhostNet

        from mmghost.models.backbones.base_ghostnet import GHOSTNET_BLOCKS
        model = TimmGhostNet(cfgs=copy.deepcopy(GHOSTNET_BLOCKS), num_classes=num_classes,
                             width=width, version=fam.timm_version)
        return model, f'models.ghostnet.GhostNet(width={width}, version={fam.timm_version!r})'
    return None, None


def verify_with_timm(model: torch.nn.Module, source: Dict[str, torch.Tensor], family: str,
                     width: float, source_form: str, num_classes: Optional[int],
                     shape: Sequence[int] = (224, 224), batch: int = 2
                     ) -> Tuple[Optional[float], str]:
    """Compare our converted model with timm's model holding the source weights.

    timm's model is built in the source's form and loads the *source* state_dict as read (the
    EMA/plain copy chosen, ``module.`` stripped, nothing else changed) through timm's own
    filter (``checkpoint_filter_fn`` of ``timm.models.ghostnet``: ``.bn.`` -> ``.bn1.``, thop
    keys dropped; RepGhostNet has no filter, so only thop keys are dropped), strictly. Both
    run in eval mode on the same random input.

    Args:
        model (nn.Module): Our classifier holding the converted weights (any form).
        source (dict): The chosen copy of the source weights, as read from the file.
        family (str): A key of :data:`FAMILIES`.
        width (float): The width multiplier.
        source_form (str): ``'train'`` or ``'deploy'``: the form timm's model is built in.
        num_classes (int, optional): Classes of the head; None compares backbone features
            (``forward_features``) instead of logits.
        shape (Sequence[int]): ``(H, W)`` of the random input. Defaults to ``(224, 224)``.
        batch (int): Batch size of the random input. Defaults to 2.

    Returns:
        tuple: ``(max |ours - timm| / max |timm|, timm model name)``; ``(None, reason)`` when
        timm has no counterpart of the family.
    """
    timm_model, name = _timm_model(family, width, num_classes or 1000)
    if timm_model is None:
        return None, f'timm has no {FAMILIES[family].backbone}'
    if source_form == 'deploy':
        timm_model.convert_to_deploy()
    sd = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in source.items()}
    if FAMILIES[family].timm_version is not None:
        from timm.models.ghostnet import checkpoint_filter_fn
        sd = checkpoint_filter_fn(sd, timm_model)
    else:
        sd = {k: v for k, v in sd.items() if k.rsplit('.', 1)[-1] not in THOP_SUFFIXES}
    if num_classes is None:  # backbone-only source: no head to load
        sd = dict(sd)
        sd.update({k: v for k, v in timm_model.state_dict().items()
                   if k.split('.')[0] in ('conv_head', 'classifier')})
    try:
        timm_model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ConversionError(f'verification failed: timm {name} cannot load the source '
                              f'weights ({str(e).splitlines()[0]}...); --no-verify skips the '
                              f'check') from None
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, *shape, generator=g)
    was_training = model.training
    model.eval()
    timm_model.eval()
    with torch.no_grad():
        if num_classes is None:
            ref = timm_model.forward_features(x)
            got = model.backbone(x)[-1]
        else:
            ref = timm_model(x)
            got = model(x, mode='tensor')
    model.train(was_training)
    if got.shape != ref.shape:
        raise ConversionError(f'verification failed: output shapes differ, ours '
                              f'{list(got.shape)} vs timm {name} {list(ref.shape)}')
    diff = ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item()
    return diff, name


# ----------------------------------------------------------------------------- driver
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _timm_available() -> bool:
    try:
        import timm  # noqa: F401
    except ImportError:
        return False
    return True


def convert_checkpoint(src: str,
                       dst: str,
                       family: Optional[str] = None,
                       width: Optional[float] = None,
                       ema: Optional[bool] = None,
                       backbone_only: bool = False,
                       deploy: bool = False,
                       verify: Optional[bool] = None,
                       verify_shape: Sequence[int] = (224, 224),
                       rtol: float = 1e-5,
                       log: Callable[[str], None] = print) -> ConversionResult:
    """Convert a published GhostNet-family checkpoint into an mmghost checkpoint.

    The output is ``{'meta': {...}, 'state_dict': {...}}``: an mmpretrain classifier checkpoint
    that loads strictly into our classification config of the detected family and width (the
    deploy config for a deploy-form output), e.g.
    ``load_checkpoint(model, dst, strict=True)`` or ``tools/test.py CONFIG dst``. With
    ``backbone_only`` only the ``backbone.*`` entries are kept; a detector loads them, like a
    full classifier checkpoint, with
    ``backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.'))``
    (what ``configs/detection/*.py`` do).

    Args:
        src (str): The source checkpoint (``.pth``, ``.pth.tar``, ``.safetensors``).
        dst (str): Where to write; written to a temporary file in the same folder and renamed,
            only after every check passed. Must differ from ``src``.
        family (str, optional): ``ghostnet``, ``ghostnetv2``, ``ghostnetv3``, ``repghostnet``
            or ``ghostnetv3_small`` (or our registry names). Detected from the key names when
            None; when given it must agree with the file.
        width (float, optional): The width multiplier. Detected from the final 1x1 conv's
            channels when None (released widths only); when given it must agree with the file.
            Any positive width can be given for a custom-width file.
        ema (bool, optional): Which copy of a training wrapper: True ``state_dict_ema``, False
            ``state_dict``, None the EMA copy when present.
        backbone_only (bool): Write only the backbone. Defaults to False.
        deploy (bool): Write the re-parameterized form (build, load, ``switch_to_deploy``,
            save). A deploy-form source is always written in deploy form. Defaults to False.
        verify (bool, optional): Compare logits with timm's model holding the source weights
            (eval mode, random input). None: when timm is importable.
        verify_shape (Sequence[int]): ``(H, W)`` of the verification input.
        rtol (float): Largest allowed ``max|ours - timm| / max|timm|``. An output fused from a
            training-form source (``deploy=True``) is allowed ``max(rtol, 1e-4)``, since fusion
            changes the float summation order.
        log (callable): Receives the report lines. Defaults to ``print``.

    Returns:
        ConversionResult: What was detected, dropped, renamed and written.

    Raises:
        ConversionError: (a ``ValueError``) on any problem; nothing is written then.
    """
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ConversionError(f'refusing to overwrite the source {src}; choose another DST')
    if width is not None and (isinstance(width, bool) or not float(width) > 0):
        raise ConversionError(f'--width must be a positive number, got {width!r}')
    forced_family = _family_key(family) if family is not None else None
    if verify is None:
        verify = _timm_available()
    elif verify and not _timm_available():
        raise ConversionError('--verify needs timm (pip install timm); or pass --no-verify')

    ckpt = load_checkpoint_safely(src)
    raw, copy_name, dropped = select_state_dict(ckpt, ema)
    del ckpt
    log(f'read {src}: {copy_name} ({len(raw)} entries)')
    source, dropped_keys, renamed = normalize_keys(raw)
    dropped += dropped_keys

    fam_key, form = detect_layout(source)
    fam = FAMILIES[fam_key]
    form_word = {'train': 'training form', 'deploy': 'deploy form'}[form]
    if forced_family is not None and forced_family != fam_key:
        raise ConversionError(
            f'--family {family} was given, but {src} is a {_width_story(source, fam_key)}, '
            f'{form_word} checkpoint; drop --family or pass --family {fam_key}')
    detected = detect_width(source, fam_key)
    if width is None:
        if detected is None:
            raise ConversionError(f'{src} is a {_width_story(source, fam_key)}; if that is a '
                                  f'custom width, pass it with --width')
        width = detected
    else:
        width = float(width)
        channels = source[_final_conv_key(source)].shape[0] \
            if _final_conv_key(source) in source else None
        if channels is not None and channels != _final_channels(fam_key, width):
            raise ConversionError(
                f'--width {width:g} was given, but {src} is a {_width_story(source, fam_key)}, '
                f'{form_word}; {_fmt_width(width)} would have '
                f'{_final_channels(fam_key, width)} channels there')

    converted, origin, dropped_head, renamed_head = to_mmghost(source, backbone_only)
    dropped += dropped_head
    renamed += renamed_head
    num_classes = hidden = None
    if not backbone_only:
        num_classes = converted['head.layers.1.fc.weight'].shape[0]
        hidden = converted['head.layers.0.fc.weight'].shape[0]
    what = f'{fam.backbone} {_fmt_width(width)} ({form_word})'
    log(f'detected: {what}' + (f', {num_classes} classes' if num_classes else ''))
    log('dropped: ' + ('; '.join(dropped) if dropped else 'nothing'))
    log('renamed: ' + '; '.join(renamed))

    model = build_classifier(fam_key, width, deploy=form == 'deploy',
                             num_classes=num_classes or 1000, hidden=hidden or 1280)
    expected = {k: v for k, v in model.state_dict().items()
                if not backbone_only or k.startswith('backbone.')}
    _check_against(expected, converted, origin, what, src)
    if backbone_only:
        model.backbone.load_state_dict(
            {k[len('backbone.'):]: v for k, v in converted.items()}, strict=True)
    else:
        model.load_state_dict(converted, strict=True)
    model.eval()

    out_form = form
    if deploy and form == 'train':
        if fam.reparam:
            from mmghost import switch_to_deploy
            switch_to_deploy(model)
            out_form = 'deploy'
            log('re-parameterized: switch_to_deploy')
        else:
            log(f'--deploy: {fam.backbone} has nothing to re-parameterize; written as it is')

    out_what = f'{fam.backbone} {_fmt_width(width)} ' \
               f'({"deploy form" if out_form == "deploy" else "training form"})'
    max_diff = None
    if verify:
        tol = max(rtol, 1e-4) if out_form != form else rtol
        max_diff, name = verify_with_timm(model, raw, fam_key, width, form, num_classes,
                                          shape=verify_shape)
        if max_diff is None:
            log(f'not verified: {name}')
        else:
            log(f'verified against timm {name}: max relative '
                f'{"feature" if backbone_only else "logit"} difference {max_diff:.2e} '
                f'(tolerance {tol:.0e})')
            if not max_diff <= tol:
                raise ConversionError(
                    f'verification failed: our converted {out_what} differs from timm {name} '
                    f'holding the same weights by {max_diff:.2e} (relative) > {tol:.0e}; '
                    f'nothing was written')
    else:
        log('not verified (--no-verify or timm not installed)')

    state_dict = OrderedDict(
        (k, v) for k, v in model.state_dict().items()
        if not backbone_only or k.startswith('backbone.'))
    config = find_config(fam_key, width, deploy=out_form == 'deploy' and fam.reparam)
    from mmghost import __version__
    meta = dict(
        converter='mmghost.utils.converters', mmghost_version=__version__,
        source=str(src), source_sha256=_sha256(src), source_copy=copy_name,
        source_form=form, family=fam.backbone, width=float(width), form=out_form,
        num_classes=int(num_classes) if num_classes else None, backbone_only=bool(backbone_only),
        config=config, verify_max_rel_diff=max_diff)
    save_atomic({'meta': meta, 'state_dict': state_dict}, dst)

    how = (f"init_cfg=dict(type='Pretrained', checkpoint='{dst}', prefix='backbone.')"
           if backbone_only else (f'configs/{config}' if config else
                                  f'configs/classification/_base_/models/{fam.base_config} and '
                                  f'model.backbone.widen_factor={width!r}, '
                                  f'model.head.in_channels={_final_channels(fam_key, width)}'))
    log(f'wrote {dst}: {len(state_dict)} tensors, {out_what}; load with {how}')
    return ConversionResult(
        dst=dst, family=fam.backbone, width=float(width), form=out_form, source_form=form,
        source_copy=copy_name, num_classes=meta['num_classes'], num_tensors=len(state_dict),
        backbone_only=backbone_only, config=config, max_rel_diff=max_diff, dropped=dropped,
        renamed=renamed, meta=meta)
