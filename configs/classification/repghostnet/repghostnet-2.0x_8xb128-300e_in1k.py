# RepGhostNet 2.0x. README: 78.8% top-1, 9.8M params, 516M MACs.
_base_ = './repghostnet-1.3x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=2.0), head=dict(in_channels=1920))
