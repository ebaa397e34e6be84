"""Convert published GhostNet-family checkpoints into mmghost (mmpretrain) checkpoints.

Sources (the key layouts are stated per family in :mod:`mmghost.families`):

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

Our layout is an mmpretrain ``ImageClassifier`` (see :mod:`mmghost.checkpoint.layouts`).

Nothing is written unless the converted state_dict loads with ``strict=True`` into the
classifier built from our config (and, by default, gives timm's logits); the file is written
to a temporary name in the destination folder and renamed. Checkpoints are read with
``torch.load(weights_only=True)``: only tensors, plain containers and numbers, mmengine's
checkpoint types and ``argparse.Namespace`` (timm's training scripts pickle their command
line with it) are unpickled; anything else is refused before it can run.
"""
import copy
import hashlib
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from mmghost.families import (FAMILIES, LayoutError, THOP_SUFFIXES, describe_width,
                              detect_layout, detect_width, final_conv_key, fmt_width,
                              get_family)
from mmghost.models.utils import build_classifier, family_config, seeded_input
from .atomic import save_atomic
from .layouts import normalize_keys, select_state_dict, to_mmghost
from .safe_load import CheckpointError, load_checkpoint_safely

__all__ = ['ConversionError', 'ConversionResult', 'verify_with_timm', 'convert_checkpoint']


class ConversionError(CheckpointError):
    """A checkpoint cannot be converted; the message names the problem. Nothing is written."""


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
    name = fam.timm_name(width)
    if name is None:
        return None, None
    if timm.is_model(name):
        return timm.create_model(name, pretrained=False, num_classes=num_classes), name
    if fam.timm_version is not None:  # e.g. ghostnet_160, ghostnetv2_050: same class, width
        from timm.models.ghostnet import GhostNet as TimmGhostNet

        model = TimmGhostNet(cfgs=fam.arch.as_lists(), num_classes=num_classes,
                             width=width, version=fam.timm_version)
        return model, f'models.ghostnet.GhostNet(width={width}, version={fam.timm_version!r})'
    return None, None


def verify_with_timm(model: torch.nn.Module, source: Dict[str, torch.Tensor], family: str,
                     width: float, source_form: str, num_classes: Optional[int],
                     shape: Sequence[int] = (224, 224), batch: int = 2,
                     dtype: torch.dtype = torch.float32) -> Tuple[Optional[float], str]:
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
        dtype (torch.dtype): Both models run in this dtype (on copies of ours). float64 tells
            an exact fusion (1e-12) from a wrong weight; in float32 the fused model's sums run
            in another order, which a deep random network amplifies past 1e-4. Defaults to
            float32.

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
    x = seeded_input(shape, batch).to(dtype)
    was_training = model.training
    model.eval()
    if dtype != torch.float32:
        model = copy.deepcopy(model).to(dtype)
        timm_model.to(dtype)
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
        rtol (float): Largest allowed ``max|ours - timm| / max|timm|``. A model fused from a
            training-form source (``deploy=True``) is fused and compared in float64, where
            fusion is exact to round-off (in float32 the new summation order alone, amplified
            by random BN statistics, reached 1e-4), then stored in float32.
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
    try:
        forced_family = get_family(family).key if family is not None else None
    except KeyError as e:
        raise ConversionError(e.args[0]) from None
    if verify is None:
        verify = _timm_available()
    elif verify and not _timm_available():
        raise ConversionError('--verify needs timm (pip install timm); or pass --no-verify')

    try:
        ckpt = load_checkpoint_safely(src)
        raw, copy_name, dropped = select_state_dict(ckpt, ema)
        source, dropped_keys, renamed = normalize_keys(raw)
        fam_key, form = detect_layout(source)
    except (CheckpointError, LayoutError) as e:
        raise ConversionError(str(e)) from None
    del ckpt
    log(f'read {src}: {copy_name} ({len(raw)} entries)')
    dropped += dropped_keys
    fam = FAMILIES[fam_key]
    form_word = {'train': 'training form', 'deploy': 'deploy form'}[form]
    if forced_family is not None and forced_family != fam_key:
        raise ConversionError(
            f'--family {family} was given, but {src} is a {describe_width(source, fam_key)}, '
            f'{form_word} checkpoint; drop --family or pass --family {fam_key}')
    try:
        detected = detect_width(source, fam_key)
    except LayoutError as e:
        raise ConversionError(str(e)) from None
    if width is None:
        if detected is None:
            raise ConversionError(f'{src} is a {describe_width(source, fam_key)}; if that is a '
                                  f'custom width, pass it with --width')
        width = detected
    else:
        width = float(width)
        channels = source[final_conv_key(source)].shape[0] \
            if final_conv_key(source) in source else None
        if channels is not None and channels != fam.final_channels(width):
            raise ConversionError(
                f'--width {width:g} was given, but {src} is a {describe_width(source, fam_key)}, '
                f'{form_word}; {fmt_width(width)} would have '
                f'{fam.final_channels(width)} channels there')

    try:
        converted, origin, dropped_head, renamed_head = to_mmghost(source, backbone_only)
    except CheckpointError as e:
        raise ConversionError(str(e)) from None
    dropped += dropped_head
    renamed += renamed_head
    num_classes = hidden = None
    if not backbone_only:
        num_classes = converted['head.layers.1.fc.weight'].shape[0]
        hidden = converted['head.layers.0.fc.weight'].shape[0]
    what = f'{fam.backbone} {fmt_width(width)} ({form_word})'
    log(f'detected: {what}' + (f', {num_classes} classes' if num_classes else ''))
    log('dropped: ' + ('; '.join(dropped) if dropped else 'nothing'))
    log('renamed: ' + '; '.join(renamed))

    model = build_classifier(fam_key, width, deploy=form == 'deploy',
                             num_classes=num_classes or 1000, hidden=hidden or 1280).eval()
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
            model.double()  # fused in float64 (then stored in float32): exact to round-off
            model.backbone.switch_to_deploy()
            out_form = 'deploy'
            log('re-parameterized: switch_to_deploy (in float64)')
        else:
            log(f'--deploy: {fam.backbone} has nothing to re-parameterize; written as it is')

    out_what = f'{fam.backbone} {fmt_width(width)} ' \
               f'({"deploy form" if out_form == "deploy" else "training form"})'
    max_diff = None
    if verify:
        tol = rtol
        fused = out_form != form  # compared in float64: fusion is exact there
        max_diff, name = verify_with_timm(model, raw, fam_key, width, form, num_classes,
                                          shape=verify_shape,
                                          dtype=torch.float64 if fused else torch.float32)
        if max_diff is None:
            log(f'not verified: {name}')
        else:
            log(f'verified against timm {name}: max relative '
                f'{"feature" if backbone_only else "logit"} difference {max_diff:.2e} '
                f'(tolerance {tol:.0e}{", float64" if fused else ""})')
            if not max_diff <= tol:
                raise ConversionError(
                    f'verification failed: our converted {out_what} differs from timm {name} '
                    f'holding the same weights by {max_diff:.2e} (relative) > {tol:.0e}; '
                    f'nothing was written')
    else:
        log('not verified (--no-verify or timm not installed)')

    model.float()
    state_dict = OrderedDict(
        (k, v) for k, v in model.state_dict().items()
        if not backbone_only or k.startswith('backbone.'))
    config = family_config(fam_key, width, deploy=out_form == 'deploy' and fam.reparam)
    from mmghost.version import __version__
    meta = dict(
        converter='mmghost.checkpoint.convert', mmghost_version=__version__,
        source=str(src), source_sha256=_sha256(src), source_copy=copy_name,
        source_form=form, family=fam.backbone, width=float(width), form=out_form,
        num_classes=int(num_classes) if num_classes else None, backbone_only=bool(backbone_only),
        config=config, verify_max_rel_diff=max_diff)
    save_atomic({'meta': meta, 'state_dict': state_dict}, dst)

    how = (f"init_cfg=dict(type='Pretrained', checkpoint='{dst}', prefix='backbone.')"
           if backbone_only else (f'configs/{config}' if config else
                                  f'configs/classification/_base_/models/{fam.base_config} and '
                                  f'model.backbone.widen_factor={width!r}, '
                                  f'model.head.in_channels={fam.final_channels(width)}'))
    log(f'wrote {dst}: {len(state_dict)} tensors, {out_what}; load with {how}')
    return ConversionResult(
        dst=dst, family=fam.backbone, width=float(width), form=out_form, source_form=form,
        source_copy=copy_name, num_classes=meta['num_classes'], num_tensors=len(state_dict),
        backbone_only=backbone_only, config=config, max_rel_diff=max_diff, dropped=dropped,
        renamed=renamed, meta=meta)
