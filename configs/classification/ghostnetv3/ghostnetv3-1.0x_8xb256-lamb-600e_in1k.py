# GhostNetV3 1.0x on ImageNet-1k, the paper's recipe (Liu et al., arXiv 2404.11202, §5)
# without its teacher: the KD config's ablation, or a run when no teacher is at hand. (Paper,
# with KD: 77.1% top-1 from the EMA weights; 6.1M params, 167M MACs once re-parameterized.)
# - LAMB, lr 5e-3 at batch 2048 (8 GPUs x 256; auto_scale_lr rescales other batches),
#   weight decay 0.05, not on BN and biases (timm's optimizer factory, which train.py uses);
# - 600 epochs: 3 linear warmup epochs from 1e-4 (train.py's default), then a cosine to 0;
# - EMA with decay 0.9999 (mmengine momentum 1e-4), buffers averaged as in timm's ModelEmaV2;
# - RandAugment rand-m9-mstd0.5 and random erasing (mmpretrain's Swin pipeline); no Mixup,
#   no CutMix;
# - the training form: 3 conv branches and the 1x1 depth-wise scale branch;
# - no dropout (the reference V3 forward never applies its dropout argument) and plain cross
#   entropy (train.py's default label smoothing 0.1 is not in the paper's recipe as we have
#   it; set head.loss to mmpretrain.LabelSmoothLoss to try it).
_base_ = [
    '../_base_/models/ghostnetv3.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(num_conv_branches=3, dw_scale=True),
    head=dict(dropout_rate=0.))
train_dataloader = dict(batch_size=256)

optim_wrapper = dict(
    optimizer=dict(type='mmpretrain.Lamb', lr=5e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4 / 5e-3, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=597, eta_min=0., by_epoch=True, begin=3, end=600,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=2048)

custom_hooks = [
    dict(type='mmpretrain.EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL')
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
