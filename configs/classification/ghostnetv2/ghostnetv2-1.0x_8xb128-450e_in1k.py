# GhostNetV2 1.0x on ImageNet-1k (Tang et al., NeurIPS 2022). Paper: 75.3% top-1, 6.1M
# params, 167M MACs. Recipe: the official README's command (ghostnetv2_pytorch/train.py,
# timm 0.3.2, 8 GPUs x 128): RMSpropTF (alpha 0.9, eps 1e-3, momentum 0.9), lr 0.064, 3 warmup
# epochs from 1e-6, then x0.973 every 2.4 epochs, 450 epochs, weight decay 1e-5 (timm skips
# BN and biases), dropout 0.2, label smoothing 0.1, EMA 0.9999, RandAugment rand-m9-mstd0.5,
# per-pixel random erasing 0.2, AMP (add --amp).
# Approximations: torch's RMSprop with eps 0.0316 ~ sqrt(1e-3) (RMSpropTF adds eps inside the
# square root and starts its square average at 1); the decay is applied every epoch, by
# 0.973 ** (1 / 2.4), instead of x0.973 every 2.4 epochs (mmengine's ExponentialLR must stay
# epoch-based: converted to iterations it would apply gamma every iteration); timm's
# --lr-noise 0.42 0.9 is left out.
_base_ = [
    '../_base_/models/ghostnetv2.py',
    '../_base_/datasets/imagenet_bs128_randaug_224.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    head=dict(loss=dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1,
                        mode='original')))

optim_wrapper = dict(
    optimizer=dict(type='RMSprop', lr=0.064, alpha=0.9, eps=0.0316, momentum=0.9,
                   weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 0.064, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='ExponentialLR', gamma=0.973**(1 / 2.4), by_epoch=True, begin=3, end=450),
]
train_cfg = dict(by_epoch=True, max_epochs=450, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

custom_hooks = [
    dict(type='mmpretrain.EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL')
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
