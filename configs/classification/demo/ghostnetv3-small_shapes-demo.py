# Smoke/demo run on CPU: GhostNetV3-Small 1.0x on the synthetic 32x32 shapes set written by
# `python -m mmghost.datasets.demo_shapes --out data/demo_cls` (4 classes, 800 train /
# 200 val images, no download).
_base_ = [
    '../_base_/models/ghostnetv3_small.py',
    'mmpretrain::_base_/default_runtime.py',
]

data_root = 'data/demo_cls'
classes = ('circle', 'square', 'triangle', 'cross')

model = dict(
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=4,
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7],
        to_rgb=True),
    backbone=dict(widen_factor=1.0),
    head=dict(num_classes=4, in_channels=160, topk=(1, )))

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=4),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    # Unprefixed: mmpretrain's inferencers recognise (and replace) this step by its plain name.
    dict(type='LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        data_prefix='train',
        classes=classes,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        data_prefix='val',
        classes=classes,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=19, by_epoch=True, begin=1, end=20, eta_min=0.),
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
