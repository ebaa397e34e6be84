# GhostNetV3-Small 2.8x (the paper's default width) on CIFAR-10 with the seed paper's recipe
# (arXiv 2509.12380; code FlorianREGAZ/PML-Knowledge-Destillation). Paper: 93.94% top-1, 2.4M
# params (training form), its best epoch on the test split; here the checkpoint is picked on
# a held-out validation split and the test split is evaluated once (see the dataset base).
# Besides the dataset and schedule bases: no dropout (the reference forward never applies
# its dropout argument) and kaiming_normal(fan_out) init for convs (the backbone's default)
# and linear layers, as the seed's init_weights_kaiming.
_base_ = [
    '../_base_/models/ghostnetv3_small.py',
    '../_base_/datasets/cifar10_bs256_heldout.py',
    '../_base_/schedules/cifar10_bs256_nesterov-warmcos_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(head=dict(dropout_rate=0., init_cfg=dict(type='Kaiming', layer='Linear')))
# Keep the checkpoint that is best on the held-out validation split (never the test split).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_best='auto'))
