# GhostNetV3-Small's CIFAR-10 schedule (PML utils.py): SGD with nesterov, lr 0.01, momentum
# 0.9, weight decay 0.01 on every parameter, batch 256, 200 epochs; per step, the lr rises
# linearly from ~0 over the first 30% of training (60 epochs), then a cosine takes it to ~0.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=60,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=140, eta_min=0., by_epoch=True, begin=60, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
