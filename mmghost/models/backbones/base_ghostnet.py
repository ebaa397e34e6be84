"""The one skeleton of every GhostNet backbone: stem, stages, validation, freezing, loading."""
import math
import numbers
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmghost.families import (Family, LayoutError, describe_width, detect_layout, fmt_width,
                              make_divisible)
from ..layers import GhostBottleneck, RepModuleMixin

__all__ = ['BaseGhostNet', 'ConvBnAct', 'DEFAULT_INIT']

#: Kaiming for convs, constant 1 for norm layers (as mmpretrain's MobileNets).
DEFAULT_INIT = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


class _FamilyDefault:
    """``widen_factor``'s default: the family's (1.0; 2.8 for GhostNetV3-Small)."""

    def __repr__(self):
        return 'the family default'


FAMILY_DEFAULT = _FamilyDefault()


def _check_widen_factor(widen_factor) -> float:
    if isinstance(widen_factor, bool) or not isinstance(widen_factor, numbers.Real):
        raise ValueError(f'widen_factor must be a positive number, got {widen_factor!r}')
    if not math.isfinite(widen_factor) or widen_factor <= 0:
        raise ValueError(f'widen_factor must be a positive finite number, got {widen_factor}')
    return float(widen_factor)


class BaseGhostNet(BaseModule):
    """Common backbone of the GhostNet family.

    A family subclass states only what differs: its descriptor ``family`` (arch tables, stem
    stride, DFC rule, default width; :mod:`mmghost.families`), the Ghost module of its
    bottlenecks (``ghost_cfg``) and, for GhostNetV3, the re-parameterizable stride-2 DW conv
    (``dw_cfg``). Keyword options of a family (``num_conv_branches``, ``reparam_bn``, ...) are
    the keys of its ``ghost_cfg`` / ``dw_cfg`` and set them.

    Stage ``i`` of ``out_indices`` is ``blocks.i`` of the reference layout; the last stage is
    the final ``1x1`` ConvBnAct (``blocks.{n}``, ``final_expand * mid_last * w`` channels).
    ``stage_channels`` and ``stage_strides`` list every stage's channels and total stride.

    Args:
        arch (str | list): A key of the family's arch tables or a custom stage table (a list
            of stages, each a list of ``[kernel, mid, out, se_ratio, stride]`` rows).
            Defaults to the paper's table.
        widen_factor (float): Width multiplier, any positive number. Defaults to the
            family's (1.0; 2.8 for GhostNetV3-Small).
        out_indices (Sequence[int]): Stages whose outputs are returned, as a tuple in this
            order. Negative indices count from the end. Defaults to the last stage.
        frozen_stages (int): ``-1`` freezes nothing; ``k >= 0`` freezes the stem and stages
            ``0 .. k-1`` (parameters and BN statistics). Defaults to -1.
        deploy (bool): Re-parameterizable families only: build the fused (inference) form,
            which loads the state dict of a switched model strictly. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        norm_eval (bool): Keep every BN in eval mode during training. Defaults to False.
        with_cp (bool): Gradient checkpointing per bottleneck. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to Kaiming
            convs and constant-1 norms.
        **options: The family's block options (see each family).
    """

    #: The family's descriptor (set by each subclass).
    family: Family
    #: Config of the bottlenecks' Ghost modules.
    ghost_cfg: dict = dict(type='GhostModule')
    #: Re-parameterizable stride-2 DW conv of the bottlenecks (None: conv + BN).
    dw_cfg: Optional[dict] = None

    def __init__(self,
                 arch: Union[str, List, None] = None,
                 widen_factor: float = FAMILY_DEFAULT,
                 out_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 deploy: Optional[bool] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = DEFAULT_INIT,
                 **options):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        family = self.family
        if deploy is not None and not family.reparam:
            raise TypeError(f"{name}() got an unexpected keyword argument 'deploy': it has "
                            f'nothing to re-parameterize')
        ghost_cfg, dw_cfg = self._block_cfgs(options)
        arch = family.default_arch if arch is None else arch
        if isinstance(arch, str):
            if arch not in family.archs:
                raise ValueError(f'unknown arch {arch!r} for {name}; choose one of '
                                 f'{sorted(family.archs)} or pass a stage table')
            blocks_cfg = family.archs[arch].blocks
            final_expand = family.archs[arch].final_expand
        elif isinstance(arch, (list, tuple)):
            blocks_cfg, final_expand = arch, 1
        else:
            raise ValueError(f'arch must be a str or a stage table, got {type(arch).__name__}')
        self.arch = arch
        self._check_blocks(blocks_cfg, name)
        self.widen_factor = _check_widen_factor(
            family.default_width if widen_factor is FAMILY_DEFAULT else widen_factor)
        self.num_stages = len(blocks_cfg) + 1
        self.out_indices = self._check_out_indices(
            (self.num_stages - 1, ) if out_indices is None else out_indices, name)
        if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) or \
                not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be an int in [-1, {self.num_stages}] for '
                             f'{name}, got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.deploy = bool(deploy)
        w = self.widen_factor

        stem_channels = make_divisible(16 * w, 4)
        self.conv_stem = nn.Conv2d(3, stem_channels, 3, family.stem_stride, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, stem_channels)[1]
        self.act1 = build_activation_layer(act_cfg)

        in_channels = stem_channels
        stride = family.stem_stride
        self.stage_channels: List[int] = []
        self.stage_strides: List[int] = []
        stages = []
        layer_id = 0
        for stage_cfg in blocks_cfg:
            layers = []
            for k, mid, out, se_ratio, s in stage_cfg:
                out_channels = make_divisible(out * w, 4)
                layers.append(
                    GhostBottleneck(
                        in_channels,
                        make_divisible(mid * w, 4),
                        out_channels,
                        kernel_size=k,
                        stride=s,
                        se_ratio=se_ratio,
                        ghost_cfg=ghost_cfg,
                        dw_cfg=dw_cfg,
                        use_dfc=family.use_dfc(layer_id),
                        deploy=self.deploy,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        with_cp=with_cp))
                in_channels = out_channels
                stride *= s
                layer_id += 1
            stages.append(nn.Sequential(*layers))
            self.stage_channels.append(in_channels)
            self.stage_strides.append(stride)
        last_mid = blocks_cfg[-1][-1][1]
        final_channels = make_divisible(last_mid * w * final_expand, 4)
        stages.append(nn.Sequential(ConvBnAct(in_channels, final_channels, 1, norm_cfg,
                                              act_cfg)))
        self.stage_channels.append(final_channels)
        self.stage_strides.append(stride)
        self.blocks = nn.Sequential(*stages)
        self.num_layers = layer_id
        self._freeze_stages()

    @classmethod
    def _block_cfgs(cls, options: dict):
        """``ghost_cfg`` and ``dw_cfg`` with the family options set (a TypeError names an
        option the family does not have)."""
        ghost_cfg = dict(cls.ghost_cfg)
        dw_cfg = dict(cls.dw_cfg) if cls.dw_cfg is not None else None
        known = (set(ghost_cfg) | set(dw_cfg or ())) - {'type'}
        for key, value in options.items():
            if key not in known:
                raise TypeError(f'{cls.__name__}() got an unexpected keyword argument '
                                f'{key!r}' + (f'; its block options are {sorted(known)}'
                                              if known else ''))
            if key in ghost_cfg:
                ghost_cfg[key] = value
            if dw_cfg is not None and key in dw_cfg:
                dw_cfg[key] = value
        return ghost_cfg, dw_cfg

    @property
    def arch_settings(self) -> Dict[str, object]:
        """The family's named stage tables."""
        return dict(self.family.archs)

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_blocks(blocks_cfg, name: str) -> None:
        if not isinstance(blocks_cfg, (list, tuple)) or not blocks_cfg:
            raise ValueError(f'{name}: the stage table must be a non-empty list of stages')
        for i, stage in enumerate(blocks_cfg):
            if not isinstance(stage, (list, tuple)) or not stage:
                raise ValueError(f'{name}: stage {i} must be a non-empty list of '
                                 f'[kernel, mid, out, se_ratio, stride] rows, got {stage!r}')
            for row in stage:
                if not isinstance(row, (list, tuple)) or len(row) != 5:
                    raise ValueError(f'{name}: stage {i} row {row!r} is not '
                                     f'[kernel, mid, out, se_ratio, stride]')

    def _check_out_indices(self, out_indices, name: str) -> tuple:
        if isinstance(out_indices, int) and not isinstance(out_indices, bool):
            out_indices = (out_indices, )
        if not isinstance(out_indices, (list, tuple)) or not out_indices:
            raise ValueError(f'out_indices must be a non-empty sequence of ints, got '
                             f'{out_indices!r}')
        n = self.num_stages
        result = []
        for index in out_indices:
            if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
                raise ValueError(f'out_indices of {name} must be ints in [0, {n - 1}] (or '
                                 f'[-{n}, -1]), got {index!r} in {tuple(out_indices)}')
            result.append(index % n)
        if any(b <= a for a, b in zip(result, result[1:])):
            raise ValueError(f'out_indices must be strictly increasing stage indices, got '
                             f'{tuple(out_indices)}')
        return tuple(result)

    # ------------------------------------------------------------------ forward / train
    def _check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if x.dim() != 4 or x.size(1) != self.conv_stem.in_channels:
            raise ValueError(f'{name} expects N x {self.conv_stem.in_channels} x H x W images, '
                             f'got a tensor of shape {tuple(x.shape)} (load grayscale/RGBA '
                             f'images as 3-channel colour)')
        stride = self.stage_strides[max(self.out_indices)]
        if x.size(2) < stride or x.size(3) < stride:
            raise ValueError(
                f'{name} input is {x.size(2)}x{x.size(3)}, smaller than the total stride '
                f'{stride} of its last output stage ({max(self.out_indices)}), whose map would be '
                f'less than one {stride}x{stride} cell. Resize or pad inputs to at least '
                f'{stride}x{stride} (or drop the deep stages from out_indices).')

    def forward(self, x: Tensor) -> tuple:
        if not (torch.jit.is_tracing() or torch.jit.is_scripting()
                or torch.onnx.is_in_onnx_export()):
            self._check_input(x)
        x = self.act1(self.bn1(self.conv_stem(x)))
        outs = []
        # Stages after the last output are built (their weights load) but not run.
        for i, stage in enumerate(self.blocks[:max(self.out_indices) + 1]):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.conv_stem, self.bn1] + list(self.blocks[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # ------------------------------------------------------------------ deploy
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Refuse, with one clear message, weights of the other form (training vs deploy).

        Without this a fused checkpoint loaded into a training-form model (or the reverse)
        reports dozens of missing/unexpected keys, and a non-strict load (``init_cfg``
        Pretrained) would leave the model half-initialized.
        """
        if isinstance(self, RepModuleMixin):
            keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
            train_form = any('_rpr_' in k or '.fusion_bn.' in k for k in keys)
            deploy_form = any(
                k.endswith(('primary_conv.0.bias', 'cheap_operation.0.bias',
                            'cheap_operation.bias', 'conv_dw.bias')) for k in keys)
            name = type(self).__name__
            if deploy_form and not train_form and not self.deploy:
                raise ValueError(
                    f'the weights are the deploy (re-parameterized) form of {name}, but the '
                    f'model is in training form: build it with deploy=True to load them')
            if train_form and not deploy_form and self.deploy:
                raise ValueError(
                    f'the weights are the training form of {name}, but the model is in '
                    f'deploy form: load them into a model built with deploy=False and call '
                    f'switch_to_deploy()')
        if prefix + 'conv_stem.weight' in state_dict:
            self._check_checkpoint_fits(
                {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)})
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _check_checkpoint_fits(self, weights: dict) -> None:
        """Refuse weights of another family or width with one message naming both.

        mmengine loads ``load_from`` / ``init_cfg=Pretrained`` non-strictly: without this,
        a checkpoint of another width only logs size mismatches and another family only
        missing keys, and training starts from a half-initialized backbone.
        """
        name = type(self).__name__
        ours = self.family.key
        try:
            family, form = detect_layout(weights)
        except LayoutError:
            family, form = None, None
        model = f'{name} {fmt_width(self.widen_factor)}'
        if family is not None and family != ours:
            from mmghost.families import FAMILIES
            raise ValueError(f'the weights are {FAMILIES[family].backbone} ({form} form), but '
                             f'the model is {model}: use a config of that family')
        own = self.state_dict()
        wrong = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in weights.items()
                 if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape)]
        if wrong:
            key, theirs, mine = wrong[0]
            story = describe_width(weights, family or ours)
            raise ValueError(f'the weights do not fit {model} ({self.arch!r} arch): they are '
                             f'{story}; {len(wrong)} tensors differ in shape, e.g. {key} is '
                             f'{theirs} in the weights and {mine} in the model. Set '
                             f'widen_factor (and arch) to those of the checkpoint')

    def _fuse(self) -> None:
        """Fuse every re-parameterizable block (used by re-parameterizable subclasses)."""
        for module in self.modules():
            if module is not self and isinstance(module, RepModuleMixin):
                module.switch_to_deploy()


class ConvBnAct(nn.Module):
    """``conv`` (kxk, bias-free) -> ``bn1`` -> ``act1``; the final 1x1 conv of the trunk."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU')):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, 1, kernel_size // 2,
                              bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act1 = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.act1(self.bn1(self.conv(x)))
