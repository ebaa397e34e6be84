# GhostNetV3-Small 3.4x on CIFAR-10, the 2.8x config's recipe. Paper: 93.61% top-1 (best
# test epoch, PML logs).
_base_ = './ghostnetv3-small-2.8x_1xb256-200e_cifar10.py'

model = dict(backbone=dict(widen_factor=3.4), head=dict(in_channels=544))
