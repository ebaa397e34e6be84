# GhostNetV3 1.3x, the paper's recipe without its teacher (see the 1.0x config).
_base_ = './ghostnetv3-1.0x_8xb256-lamb-600e_in1k.py'

model = dict(backbone=dict(widen_factor=1.3), head=dict(in_channels=1248))
