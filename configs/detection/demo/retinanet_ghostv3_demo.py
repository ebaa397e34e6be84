# The detection demo (the README's main job): retinanet_ghostv3.py trained from scratch on CPU
# on the generated set (`python -m mmghost.datasets.demo_coco --out data/demo_coco`: 300 train /
# 60 val 128-px images of circles, squares and triangles, no download). Only data and schedule
# differ from the real config: with no ImageNet weights the backbone's BN layers train
# (norm_eval=False), AdamW converges much faster from scratch than the 1x SGD schedule, and
# ChannelsLastHook runs the convolutions in oneDNN's faster NHWC layout. Measured on 2 CPU
# cores (2026-11-21 to 2026-12-02): 16 epochs in 11-27 minutes, bbox mAP 0.675-0.692 (seed 0,
# by machine) and 0.628 (seed 1) on val; docs/benchmarks.md has each run.
_base_ = '../retinanet_ghostv3.py'

data_root = 'data/demo_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle'),
    palette=[(220, 20, 60), (0, 128, 255), (0, 180, 0)])
image_size = (128, 128)

model = dict(
    backbone=dict(norm_eval=False, init_cfg=None),
    bbox_head=dict(num_classes=3))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 16
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.05, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs, eta_min=0.)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
custom_hooks = [dict(type='mmghost.ChannelsLastHook')]
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=8)
