# RepGhostNet 0.58x. README: 68.9% top-1, 2.5M params, 60M MACs.
_base_ = './repghostnet-1.0x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=0.58), head=dict(in_channels=556))
