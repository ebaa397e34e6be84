# Teacher-assistant chain, step 2 of 2: GhostNetV3-Small 2.8x distilled (alpha 0.5, tau 1)
# from the ResNet-18 assistant trained by resnet18-ta_kd-resnet50_1xb256-200e_cifar10.py.
# Otherwise the 2.8x recipe. Paper: the TA chain was run for 1.0/1.3/1.6x only (90.60 /
# 91.85 / 92.50%, each below its baseline).
# Assistant checkpoint (local): checkpoints/resnet18-ta_cifar10.pth, step 1's checkpoint kept
# on the held-out split. A KD run saves the student only, so it loads strictly into a plain
# resnet18_8xb16_cifar10, which uses mmpretrain's CIFAR normalization.
_base_ = './ghostnetv3-small-2.8x_1xb256-200e_cifar10.py'

model = dict(
    type='mmghost.KDImageClassifier',
    teachers=[
        dict(config='resnet18_8xb16_cifar10',
             checkpoint='checkpoints/resnet18-ta_cifar10.pth',
             mean=[125.307, 122.961, 113.8575],
             std=[51.5865, 50.847, 51.255])
    ],
    alpha=0.5,
    tau=1.0)
