# RepGhostNet's ImageNet schedule (official train.sh and work_dirs/train/*/args.yaml, timm
# 0.6.7, 8 GPUs x 128): SGD with nesterov, momentum 0.9, lr 0.6, 5 warmup epochs from 1e-4,
# cosine to 1e-5 over 300 epochs, weight decay 1e-5 (timm skips BN and biases), EMA 0.9999.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.6, momentum=0.9, nesterov=True, weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4 / 0.6, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=295, eta_min=1e-5, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

custom_hooks = [
    dict(type='mmpretrain.EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL')
]
