# RepGhostNet 1.3x. README: 76.4% top-1, 5.5M params, 231M MACs. The 1.0x recipe with
# RandAugment rand-m9-mstd0.5 instead of colour jitter (timm drops colour jitter with --aa).
_base_ = [
    '../_base_/models/repghostnet.py',
    '../_base_/datasets/imagenet_bs128_randaug_224.py',
    '../_base_/schedules/imagenet_bs1024_repghostnet_300e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(widen_factor=1.3),
    head=dict(in_channels=1248,
              loss=dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1,
                        mode='original')))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
