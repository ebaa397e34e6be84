# GhostNetV3-Small 2.2x on CIFAR-10, the 2.8x config's recipe. Paper: 93.26% top-1 (best
# test epoch, PML logs).
_base_ = './ghostnetv3-small-2.8x_1xb256-200e_cifar10.py'

model = dict(backbone=dict(widen_factor=2.2), head=dict(in_channels=352))
