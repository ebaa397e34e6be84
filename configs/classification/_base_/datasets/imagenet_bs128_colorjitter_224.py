# ImageNet-1k, 128 images per GPU, the pre-RandAugment training pipeline: random resized crop
# (bicubic), horizontal flip, colour jitter 0.4 (brightness, contrast, saturation).
# Evaluation is mmpretrain's: short edge to 256 (bicubic), centre crop 224.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
