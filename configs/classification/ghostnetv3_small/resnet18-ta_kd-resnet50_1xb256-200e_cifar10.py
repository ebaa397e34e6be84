# Teacher-assistant chain, step 1 of 2 (GhostNetV3-Small paper; PML
# training_with_teacher_assistant_small.py distills each stage from the previous one at alpha
# 0.5, tau 1, each assistant starting from its pretrained CIFAR weights): the assistant, a
# CIFAR ResNet-18 initialized from mmpretrain's resnet18_8xb16_cifar10, distilled from the
# ResNet-50 teacher with GhostNetV3-Small's recipe and held-out split. It keeps mmpretrain's
# CIFAR normalization, which its initial weights were trained with.
# Local checkpoints, never downloaded:
#   checkpoints/resnet18_cifar10.pth (load_from; drop it to train the assistant from scratch)
#   https://download.openmmlab.com/mmclassification/v0/resnet/resnet18_b16x8_cifar10_20210528-bd6371c8.pth
#   checkpoints/resnet50_cifar10.pth (teacher)
#   https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_b16x8_cifar10_20210528-f54bfad9.pth
# Then copy the checkpoint kept on the held-out split (best_accuracy_top1_epoch_*.pth) to
# checkpoints/resnet18-ta_cifar10.pth for step 2,
# ghostnetv3-small-2.8x_kd-ta-resnet18_1xb256-200e_cifar10.py.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar10_bs256_heldout.py',
    '../_base_/schedules/cifar10_bs256_nesterov-warmcos_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='mmghost.KDImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    teachers=[
        dict(config='resnet50_8xb16_cifar10', checkpoint='checkpoints/resnet50_cifar10.pth')
    ],
    alpha=0.5,
    tau=1.0)
# Keep the checkpoint that is best on the held-out validation split (never the test split).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_best='auto'))
load_from = 'checkpoints/resnet18_cifar10.pth'
