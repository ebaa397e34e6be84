# RepGhostNet 1.0x on ImageNet-1k (Chen et al., arXiv 2211.06088). README: 74.2% top-1, 4.1M
# params, 142M MACs. Recipe of the official train.sh (timm 0.6.7): the schedule base, plus
# dropout 0.2 (model base), label smoothing 0.1, colour jitter 0.4 and per-pixel random
# erasing 0.2; AMP (add --amp). From 1.3x on, RandAugment rand-m9-mstd0.5 replaces the
# colour jitter.
_base_ = [
    '../_base_/models/repghostnet.py',
    '../_base_/datasets/imagenet_bs128_colorjitter_224.py',
    '../_base_/schedules/imagenet_bs1024_repghostnet_300e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    head=dict(loss=dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1,
                        mode='original')))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='mmpretrain.RandomErasing', erase_prob=0.2, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    dict(type='mmpretrain.PackInputs'),
]))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
