# ImageNet-1k, 128 images per GPU, timm's "--aa rand-m9-mstd0.5 --reprob 0.2 --remode pixel"
# pipeline: mmpretrain's Swin pipeline (random resized crop, flip, RandAugment m9 mstd 0.5,
# per-pixel random erasing) with the erasing probability at 0.2 instead of 0.25.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.RandAugment', policies='timm_increasing', num_policies=2,
         total_level=10, magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='mmpretrain.RandomErasing', erase_prob=0.2, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
