# GhostNet 1.3x. Paper: 75.7% top-1, 7.3M params, 226M MACs.
_base_ = './ghostnet-1.0x_8xb128-400e_in1k.py'

model = dict(backbone=dict(widen_factor=1.3), head=dict(in_channels=1248))
