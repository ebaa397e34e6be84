"""Helpers shared by the tests."""
import copy
import os.path as osp

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmghost.models.backbones.base_ghostnet import BaseGhostNet

# Reference numbers (analytic counts from the reference code, equal to timm's published
# parameter counts; independent of mmghost.families): ImageNet classifiers at 1000 classes
# (224x224); GhostNetV3-Small at 10 classes (32x32).
# name: {width: (train params, deploy params, train MACs, deploy MACs)}
SPEC = {
    'GhostNet': {
        0.5: (2587292, 2587292, 42328152, 42328152),
        1.0: (5182508, 5182508, 141150512, 141150512),
        1.3: (7358820, 7358820, 227003256, 227003256),
        1.6: (9998746, 9998746, 335054504, 335054504),
    },
    'GhostNetV2': {
        0.5: (2857836, 2857836, 49640656, 49640656),
        1.0: (6156908, 6156908, 167048288, 167048288),
        1.3: (8960404, 8960404, 269322976, 269322976),
        1.6: (12392698, 12392698, 398607224, 398607224),
    },
    'GhostNetV3': {
        0.5: (3395384, 2853176, 117528000, 49640656),
        1.0: (8129028, 6147588, 404128320, 167048288),
        1.3: (12217720, 8948296, 654842824, 269322976),
        1.6: (17275700, 12377778, 971574612, 398607224),
    },
    'RepGhostNet': {
        0.5: (2313968, 2306528, 43314720, 43314720),
        0.58: (2546388, 2537736, 59804016, 59804016),
        0.8: (3278968, 3267112, 95518948, 95518948),
        1.0: (4073604, 4058772, 142394128, 142394128),
        1.11: (4539984, 4523568, 170124224, 170124224),
        1.3: (5478612, 5459316, 231123652, 231123652),
        1.5: (6575336, 6553064, 301315856, 301315856),
        2.0: (9796124, 9766460, 515869856, 515869856),
    },
    'GhostNetV3Small': {
        1.0: (483554, 376982, 19634560, 8962176),
        1.3: (712198, 540376, 31414560, 14311328),
        1.6: (973606, 723804, 45899776, 20829312),
        1.9: (1277070, 932344, 64143584, 29022944),
        2.2: (1617674, 1165824, 84182368, 38014304),
        2.8: (2426850, 1709296, 131706592, 59466208),
        3.4: (3380066, 2341264, 192406944, 86629408),
    },
}

REPARAM = ('GhostNetV3', 'GhostNetV3Small', 'RepGhostNet')
ALL_BACKBONES = ('GhostNet', 'GhostNetV2', 'GhostNetV3', 'RepGhostNet', 'GhostNetV3Small')


def classifier_cfg(backbone: str, widen_factor: float, deploy: bool = False, **kwargs) -> dict:
    """mmpretrain ImageClassifier with the reference head (1280 hidden, ReLU, dropout 0.2)."""
    small = backbone == 'GhostNetV3Small'
    bb = dict(type=f'mmghost.{backbone}', widen_factor=widen_factor,
              out_indices=(7, ) if small else (9, ), **kwargs)
    if deploy:
        bb['deploy'] = True
    from mmghost.families import make_divisible
    last = 160 if small else 960
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=bb,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.StackedLinearClsHead',
            num_classes=10 if small else 1000,
            in_channels=make_divisible(last * widen_factor, 4),
            mid_channels=[1280],
            dropout_rate=0.2,
            act_cfg=dict(type='ReLU'),
            loss=dict(type='mmpretrain.CrossEntropyLoss')))


def build(cfg: dict) -> nn.Module:
    from mmengine.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg))


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomize_bn(model: nn.Module, seed: int = 0, inputs=None) -> nn.Module:
    """Random BN running statistics and affine parameters (fusion must use all four).

    With ``inputs`` (a tensor, or a callable run on the model), the running statistics are
    first calibrated on it in train mode and then perturbed, so a deep random network stays
    well-conditioned in eval mode (pure random statistics make activations explode through
    16 blocks, and the comparison would then test float round-off, not the fusion).
    """
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    with torch.no_grad():
        for m in bns:
            c = m.num_features
            if m.affine:
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
        if inputs is not None:
            was_training = model.training
            momenta = [m.momentum for m in bns]
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration passes
            model.train()
            for _ in range(2):
                inputs(model) if callable(inputs) else model(inputs)
            for m, momentum in zip(bns, momenta):
                m.momentum = momentum
            model.train(was_training)
        for m in bns:
            c = m.num_features
            if inputs is None:
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
            else:
                std = m.running_var.clamp_min(1e-6).sqrt()
                m.running_mean.add_(torch.randn(c, generator=g) * 0.1 * std)
                m.running_var.mul_(torch.rand(c, generator=g) * 0.7 + 0.7)
    return model


@torch.no_grad()
def calibrate_bn(model: nn.Module, run) -> nn.Module:
    """BN running statistics set to the batch statistics of ``run(model)`` (train mode, one
    cumulative pass), then eval mode: a random network that keeps its scale on new inputs of the
    same distribution."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    run(model)
    for m in bns:
        m.momentum = 0.1
    return model.eval()


@torch.no_grad()
def normalize_outputs(model: nn.Module, run, modules, std: float = 1.0) -> nn.Module:
    """Scale each conv of ``modules`` (in order) so that its output has standard deviation
    ``std`` when ``run(model)`` runs (the largest over the calls of a conv shared by several
    inputs, such as a detection head's levels): a data-dependent init, so that a random
    network's activations neither vanish nor explode and its outputs are spread, without
    ties."""
    for module in modules:
        seen = []
        hook = module.register_forward_hook(lambda m, i, o: seen.append(o.detach().std()))
        try:
            run(model)
        finally:
            hook.remove()
        module.weight.mul_(std / max(float(torch.stack(seen).max()), 1e-12))
        if module.bias is not None:
            module.bias.zero_()
    return model


def timm_model(timm, name: str, seed: int = 0, deploy: bool = False) -> nn.Module:
    """A timm model with random weights and random BN statistics, in eval mode."""
    model = randomize_bn(timm.create_model(name, pretrained=False), seed=seed).eval()
    if deploy:
        model.convert_to_deploy()
    return model


def flatten_outputs(out):
    """A tensor, or the tensors of nested tuples/lists, as a flat list."""
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out for t in flatten_outputs(o)]


def assert_close_rel(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-4,
                     what: str = '') -> None:
    """``max|a - e| <= rel * max|e|`` (relative to the output's scale)."""
    if not isinstance(actual, torch.Tensor):
        pairs = list(zip(flatten_outputs(actual), flatten_outputs(expected)))
        assert pairs and len(pairs) == len(flatten_outputs(expected)), what
        for a, e in pairs:
            assert_close_rel(a, e, rel, what)
        return
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    scale = expected.abs().max().clamp_min(1e-12)
    err = (actual - expected).abs().max()
    assert err <= rel * scale, f'{what}: max abs err {err:.3e} > {rel} * {scale:.3e}'


def backbones_in(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, BaseGhostNet)]


# ---------------------------------------------------------------- tiny configs on generated data

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_DEMO_CFG = f'{REPO}/configs/detection/demo/retinanet_ghostv3_demo.py'
SHAPES_CFG = f'{REPO}/configs/classification/demo/ghostnetv3-small_shapes-demo.py'


def write_tiny_classifier_config(tmp_path, name: str = 'cls.py'):
    """GhostNetV3-Small 0.5x on 8 + 8 generated 32 px shape pictures, one epoch."""
    from mmghost.datasets.demo_shapes import make_shape_classification
    make_shape_classification(str(tmp_path / 'shapes'), num_train=8, num_val=8, size=32, seed=0)
    cfg = tmp_path / name
    cfg.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=80, mid_channels=[32]))
_loader = dict(batch_size=4, num_workers=0, persistent_workers=False,
               dataset=dict(data_root={str(tmp_path / 'shapes')!r}))
train_dataloader = _loader
val_dataloader = _loader
test_dataloader = _loader
train_cfg = dict(max_epochs=1, val_interval=1)
""")
    return cfg


def write_tiny_detector_config(tmp_path, size: int = 96, num_train: int = 4,
                               model_options: str = '', extra: str = '',
                               name: str = 'tiny_det.py'):
    """The demo RetinaNet-GhostNetV3 at 0.5x on a generated COCO set of ``size`` px pictures
    (4 val images, tested at ``size``); returns ``(config path, data folder)``."""
    from mmghost.datasets.demo_coco import make_demo_coco
    data = tmp_path / 'coco'
    make_demo_coco(str(data), num_train=num_train, num_val=4, size=size, seed=1)
    root = str(data) + '/'
    from mmengine.config import Config
    # The demo's own test pipeline, resized to `size` (a config cannot edit a base list item).
    test_pipeline = [dict(t, scale=(size, size)) if t['type'] == 'Resize' else dict(t)
                     for t in Config.fromfile(DET_DEMO_CFG).test_pipeline]
    cfg = tmp_path / name
    cfg.write_text(f"""
_base_ = {DET_DEMO_CFG!r}
model = dict(backbone=dict(widen_factor=0.5), neck=dict(in_channels=[12, 20, 56, 480]),
             {model_options})
image_size = ({size}, {size})
test_pipeline = {test_pipeline!r}
_data = dict(data_root={root!r}, pipeline=test_pipeline)
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={root!r}))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=_data)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root + 'annotations/instances_val.json'!r})
test_evaluator = val_evaluator
{extra}""")
    return cfg, data


def config_model(config, path):
    """Our config's classifier with the converted file loaded strictly (mmengine's loader)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(path), map_location='cpu', strict=True)
    return model.eval()
