# GhostNetV3-Small 1.9x on CIFAR-10, the 2.8x config's recipe. Paper: 93.23% top-1 (best
# test epoch, PML logs).
_base_ = './ghostnetv3-small-2.8x_1xb256-200e_cifar10.py'

model = dict(backbone=dict(widen_factor=1.9), head=dict(in_channels=304))
