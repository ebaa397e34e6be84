# GhostNetV3 1.3x with the paper's full recipe, BEiTv2-B teacher included (see the 1.0x
# config; teacher checkpoint: checkpoints/beitv2-base_in1k.pth).
# Paper: 79.1% top-1, 8.9M params, 269M MACs (re-parameterized).
_base_ = './ghostnetv3-1.0x_kd-beitv2-base_8xb256-lamb-600e_in1k.py'

model = dict(backbone=dict(widen_factor=1.3), head=dict(in_channels=1248))
