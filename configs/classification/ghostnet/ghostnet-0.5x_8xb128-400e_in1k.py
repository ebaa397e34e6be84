# GhostNet 0.5x. Paper: 66.2% top-1, 2.6M params, 42M MACs. The official code crops less
# aggressively below 1.0x (random-resized crop keeps at least 49% of the image area).
_base_ = './ghostnet-1.0x_8xb128-400e_in1k.py'

model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=480))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.49, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='mmpretrain.PackInputs'),
]))
