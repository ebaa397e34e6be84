"""Markdown table of parameters and MACs of every GhostNet-family classifier and width.

    python tools/analysis_tools/complexity_table.py [--families GhostNet RepGhostNet ...]

Classifier = backbone + global average pooling + the reference head (1280-wide hidden layer,
ReLU, dropout 0.2; 1000 classes, 10 for GhostNetV3-Small). MACs are mmengine FlopAnalyzer's
conv + linear counts (the papers' "FLOPs") at 224x224 (32x32 for GhostNetV3-Small), in the
training form and after ``switch_to_deploy``.
"""
import argparse
import copy

import torch

WIDTHS = {
    'GhostNet': (0.5, 1.0, 1.3, 1.6),
    'GhostNetV2': (0.5, 1.0, 1.3, 1.6),
    'GhostNetV3': (0.5, 1.0, 1.3, 1.6),
    'RepGhostNet': (0.5, 0.58, 0.8, 1.0, 1.11, 1.3, 1.5, 2.0),
    'GhostNetV3Small': (1.0, 1.3, 1.6, 1.9, 2.2, 2.8, 3.4),
}
REPARAM = ('GhostNetV3', 'RepGhostNet', 'GhostNetV3Small')


def classifier(family: str, width: float) -> torch.nn.Module:
    from mmengine.registry import MODELS
    from mmghost.models.layers import make_divisible
    small = family == 'GhostNetV3Small'
    cfg = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type=f'mmghost.{family}', widen_factor=width,
                      out_indices=(7, ) if small else (9, ), init_cfg=None),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.StackedLinearClsHead', num_classes=10 if small else 1000,
                  in_channels=make_divisible((160 if small else 960) * width, 4),
                  mid_channels=[1280], dropout_rate=0.2, act_cfg=dict(type='ReLU'),
                  loss=dict(type='mmpretrain.CrossEntropyLoss')))
    return MODELS.build(cfg).eval()


def macs(model: torch.nn.Module, size: int) -> int:
    from mmghost.utils.complexity import count_complexity
    return count_complexity(model, (size, size))['macs']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--families', nargs='+', default=list(WIDTHS))
    args = parser.parse_args()
    from mmghost import switch_to_deploy
    print('| model | width | params (train) | params (deploy) | MACs (train) | MACs (deploy) |')
    print('|---|---|---|---|---|---|')
    for family in args.families:
        size = 32 if family == 'GhostNetV3Small' else 224
        for width in WIDTHS[family]:
            model = classifier(family, width)
            p_train = sum(p.numel() for p in model.parameters())
            m_train = macs(model, size)
            if family in REPARAM:
                fused = switch_to_deploy(copy.deepcopy(model))
                p_dep = sum(p.numel() for p in fused.parameters())
                m_dep = macs(fused, size)
                dep = (f'{p_dep:,}', f'{m_dep / 1e6:.1f}M')
            else:
                dep = ('=', '=')
            print(f'| {family} | {width} | {p_train:,} | {dep[0]} | {m_train / 1e6:.1f}M | '
                  f'{dep[1]} |', flush=True)


if __name__ == '__main__':
    main()
