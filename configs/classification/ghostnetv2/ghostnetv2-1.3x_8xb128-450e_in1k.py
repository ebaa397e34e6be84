# GhostNetV2 1.3x. Paper: 76.9% top-1, 8.9M params, 269M MACs.
_base_ = './ghostnetv2-1.0x_8xb128-450e_in1k.py'

model = dict(backbone=dict(widen_factor=1.3), head=dict(in_channels=1248))
