"""The family descriptor: every fact of one GhostNet family in one frozen record."""
import re
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Tuple

__all__ = ['make_divisible', 'Arch', 'Release', 'PublishedModel', 'Family', 'fmt_width',
           'deploy_name']

#: One bottleneck: ``(kernel, mid, out, se_ratio, stride)``; a stage is a sequence of them.
Row = Tuple[int, int, int, float, int]


def make_divisible(value: float, divisor: int = 4, min_value: Optional[int] = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% below ``value``.

    The channel rounding of every GhostNet reference (divisor 4 everywhere: stem, mid, out,
    final conv and the SE reduction).
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def fmt_width(width: float) -> str:
    """``1.0 -> '1.0x'``, ``0.58 -> '0.58x'`` (the width as configs and model names spell it)."""
    return f'{float(width)!r}x'


@dataclass(frozen=True)
class Arch:
    """A stage table: ``blocks[i]`` is stage ``i`` (``blocks.i`` of the reference layout).

    Args:
        blocks: Stages, each a sequence of ``(kernel, mid, out, se_ratio, stride)`` rows;
            channels are scaled by the width and rounded with :func:`make_divisible`.
        final_expand: The final 1x1 ConvBnAct has ``final_expand * mid_last * width``
            channels (2 for RepGhostNet, whose mids are halved).
    """
    blocks: Tuple[Tuple[Row, ...], ...]
    final_expand: int = 1

    @property
    def num_stages(self) -> int:
        """Stages that ``out_indices`` index: the bottleneck stages and the final conv."""
        return len(self.blocks) + 1

    @property
    def num_layers(self) -> int:
        return sum(len(stage) for stage in self.blocks)

    def final_channels(self, width: float) -> int:
        return make_divisible(self.blocks[-1][-1][1] * width * self.final_expand, 4)

    def stage_channels(self, width: float) -> Tuple[int, ...]:
        """Output channels of every stage (the ``out_indices`` order) at ``width``."""
        return tuple(make_divisible(stage[-1][2] * width, 4)
                     for stage in self.blocks) + (self.final_channels(width), )

    def stage_strides(self, stem_stride: int) -> Tuple[int, ...]:
        """Total stride of every stage after a stem of ``stem_stride``."""
        strides, stride = [], stem_stride
        for stage in self.blocks:
            for row in stage:
                stride *= row[4]
            strides.append(stride)
        return tuple(strides) + (stride, )

    def as_lists(self):
        """The table as nested lists (the form the reference code and timm take)."""
        return [[list(row) for row in stage] for stage in self.blocks]


@dataclass(frozen=True)
class Release:
    """A published checkpoint of a family.

    Args:
        name: Our model name (metafile ``Name``, ``mmpretrain.get_model``, checkpoint name).
        width: Its width multiplier.
        url: The exact download URL, as the publisher gives it.
        source: ``'official'`` (the authors' release) or ``'timm'``.
        publisher_name: The name the publisher gives the file or model (timm's
            ``ghostnetv3_100.in1k``, the authors' file name).
        form: ``'train'`` or ``'deploy'``: the layout of the published state dict.
        top1 / top5: ImageNet-1k accuracy (%) the publisher reports for these weights.
        reported_by: Where ``top1``/``top5`` are stated.
        weights_copy: The wrapper key holding these weights when the file has several
            (``'state_dict_ema'``), else None.
        sha256: The file's SHA-256 when the publisher states it, else None.
    """
    name: str
    width: float
    url: str
    source: str
    publisher_name: str
    form: str = 'train'
    top1: Optional[float] = None
    top5: Optional[float] = None
    reported_by: str = ''
    weights_copy: Optional[str] = None
    sha256: Optional[str] = None


def deploy_name(name: str) -> str:
    """The model name of a release's deploy form: ``-deploy`` before the dataset suffix."""
    stem, sep, data = name.rpartition('_')
    return f'{stem}-deploy{sep}{data}'


@dataclass(frozen=True)
class PublishedModel:
    """A model name of a published checkpoint: the release and the form it is loaded in.

    Args:
        name: The model name (metafile ``Name``, ``mmghost://NAME``).
        family: Its family.
        release: The published file.
        deploy: Loaded in deploy (re-parameterized) form.
    """
    name: str
    family: 'Family'
    release: Release
    deploy: bool = False

    @property
    def config(self) -> Optional[str]:
        """Our classification config of this model (relative to ``configs/``)."""
        return self.family.config(self.release.width, self.deploy)


@dataclass(frozen=True)
class Family:
    """Everything mmghost states about one backbone family, read by the backbones (arch tables,
    stem stride, DFC rule), the checkpoint converter (key layouts, widths, timm names), the
    benchmark and complexity tools (widths, reported top-1), and the docs and metafiles
    (papers, releases).

    Args:
        key: Short name (``'ghostnetv3'``), the converter's ``--family``.
        backbone: Registry name of the backbone (``'GhostNetV3'``, ``type='mmghost.X'``).
        title / paper / venue: The paper.
        code: The reference implementation.
        archs: Named stage tables; ``default_arch`` is the paper's.
        widths: Widths the papers report (our configs exist for them).
        default_width: ``widen_factor`` when none is given.
        reparam: Whether the family trains with re-parameterizable branches.
        dfc_from_layer: Bottlenecks with ``layer_id >= dfc_from_layer`` gate ghost1 with DFC
            attention; None: no DFC.
        stem_stride: Stride of the stem conv.
        input_size / num_classes / dataset: The paper's classification setting.
        key_markers: ``(form, regex)`` pairs: a reference state dict with a key matching
            ``regex`` is this family in that form (see :mod:`mmghost.families.layout`).
        detect_rank: Order in which families' markers are tried (more specific first).
        timm_stem: timm model names are ``f'{timm_stem}_{round(100 * width):03d}'``.
        timm_version: ``version`` argument of timm's ``GhostNet`` class for this family.
        timm_key_renames: ``(regex, replacement)`` pairs turning timm key names into the
            reference ones.
        config_dir: Folder of the classification configs under ``configs/classification``.
        config_name / deploy_config_name: Config file names, ``{w}`` is the width
            (``repr``); None: no deploy configs.
        base_config: The model config under ``configs/classification/_base_/models``.
        reported_top1: ``{width: (top1, source)}`` the papers report (with or without
            published weights).
        releases: The published checkpoints.
    """
    key: str
    backbone: str
    title: str
    paper: str
    venue: str
    code: str
    archs: Mapping[str, Arch]
    default_arch: str
    widths: Tuple[float, ...]
    default_width: float = 1.0
    reparam: bool = False
    dfc_from_layer: Optional[int] = None
    stem_stride: int = 2
    input_size: int = 224
    num_classes: int = 1000
    dataset: str = 'ImageNet-1k'
    key_markers: Tuple[Tuple[str, str], ...] = ()
    detect_rank: int = 0
    timm_stem: Optional[str] = None
    timm_version: Optional[str] = None
    timm_key_renames: Tuple[Tuple[str, str], ...] = ()
    config_dir: str = ''
    config_name: str = ''
    deploy_config_name: Optional[str] = None
    base_config: str = ''
    reported_top1: Mapping[float, Tuple[float, str]] = field(default_factory=dict)
    releases: Tuple[Release, ...] = ()

    @property
    def arch(self) -> Arch:
        """The paper's stage table."""
        return self.archs[self.default_arch]

    def use_dfc(self, layer_id: int) -> bool:
        """Whether bottleneck ``layer_id`` (0-based over the whole trunk) has DFC attention."""
        return self.dfc_from_layer is not None and layer_id >= self.dfc_from_layer

    def final_channels(self, width: float, arch: Optional[str] = None) -> int:
        """Channels of the final 1x1 ConvBnAct (the classifier head's input) at ``width``."""
        return self.archs[arch or self.default_arch].final_channels(width)

    def stage_channels(self, width: float, arch: Optional[str] = None) -> Tuple[int, ...]:
        """The backbone's ``stage_channels`` at ``width``."""
        return self.archs[arch or self.default_arch].stage_channels(width)

    def stage_strides(self, arch: Optional[str] = None) -> Tuple[int, ...]:
        """The backbone's ``stage_strides``."""
        return self.archs[arch or self.default_arch].stage_strides(self.stem_stride)

    def timm_name(self, width: float) -> Optional[str]:
        """timm's model name at ``width`` (whether timm registers it or not), or None."""
        if self.timm_stem is None:
            return None
        return f'{self.timm_stem}_{int(round(width * 100)):03d}'

    def config(self, width: float, deploy: bool = False) -> Optional[str]:
        """Our classification config for ``width``, relative to ``configs/`` (None: none)."""
        name = self.deploy_config_name if deploy else self.config_name
        if name is None:
            return None
        sub = f'{self.config_dir}/deploy' if deploy else self.config_dir
        return f'classification/{sub}/{name.format(w=repr(float(width)))}'

    def release(self, name: str) -> Release:
        for r in self.releases:
            if r.name == name:
                return r
        raise KeyError(name)

    def models(self) -> Tuple['PublishedModel', ...]:
        """Every model name of the family's releases: each release in its published form,
        and the re-parameterizable ones also fused (``..._3rdparty-deploy_in1k``)."""
        out = []
        for r in self.releases:
            out.append(PublishedModel(r.name, self, r, deploy=r.form == 'deploy'))
            if self.reparam and r.form == 'train':
                out.append(PublishedModel(deploy_name(r.name), self, r, deploy=True))
        return tuple(out)

    def key_form(self, keys: Sequence[str]) -> Optional[str]:
        """The form (``'train'``/``'deploy'``) of the first marker a key matches, or None."""
        for form, pattern in self.key_markers:
            regex = re.compile(pattern)
            if any(regex.search(k) for k in keys):
                return form
        return None

    def short(self) -> Dict[str, object]:
        return dict(key=self.key, backbone=self.backbone, widths=self.widths)
