# RepGhostNet 1.11x. README: 75.1% top-1, 4.5M params, 170M MACs.
_base_ = './repghostnet-1.0x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=1.11), head=dict(in_channels=1064))
