# GhostNet 1.0x on ImageNet-1k (Han et al., CVPR 2020). Paper: 73.9% top-1, 5.2M params,
# 141M MACs. Recipe from the official TensorFlow code (Efficient-AI-Backbones
# ghostnet_tensorflow/main.py, imagenet_utils.py; the PyTorch folder has no training script):
# batch 1024, 400 epochs, momentum 0.9 with nesterov, weight decay 4e-5 on conv and linear
# weights only (not on BN, biases or depth-wise convs), label smoothing 0.1, dropout 0.2,
# random-resized crop (min area 0.08; 0.49 below 1.0x), colour jitter, flip.
# Not published: the lr schedule and the exact lr (main.py's "base learning rate" is 0.1,
# i.e. 0.4 at batch 1024 if read per 256 images as tensorpack's ImageNet examples do). Used
# here: lr 0.4, a 5-epoch linear warmup, then a cosine to 0.
_base_ = [
    '../_base_/models/ghostnet.py',
    '../_base_/datasets/imagenet_bs128_colorjitter_224.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    head=dict(loss=dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1,
                        mode='original')))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, nesterov=True, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., dwconv_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=395, eta_min=0., by_epoch=True, begin=5, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=400, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
