# GhostNetV2 1.6x. Paper: 77.8% top-1, 12.3M params, 399M MACs.
_base_ = './ghostnetv2-1.0x_8xb128-450e_in1k.py'

model = dict(backbone=dict(widen_factor=1.6), head=dict(in_channels=1536))
