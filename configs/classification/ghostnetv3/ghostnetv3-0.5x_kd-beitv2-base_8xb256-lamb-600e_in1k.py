# GhostNetV3 0.5x with the paper's full recipe, BEiTv2-B teacher included (see the 1.0x
# config; teacher checkpoint: checkpoints/beitv2-base_in1k.pth).
# Paper: no 0.5x accuracy found (Table 9 lists 2.7M params / 48M MACs, which no
# reference code reproduces).
_base_ = './ghostnetv3-1.0x_kd-beitv2-base_8xb256-lamb-600e_in1k.py'

model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=480))
