# GhostNetV3-Small 1.0x on CIFAR-10, the 2.8x config's recipe. Paper: 91.37% top-1 (best
# test epoch, PML logs).
_base_ = './ghostnetv3-small-2.8x_1xb256-200e_cifar10.py'

model = dict(backbone=dict(widen_factor=1.0), head=dict(in_channels=160))
