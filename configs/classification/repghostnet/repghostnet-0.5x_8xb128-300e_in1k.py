# RepGhostNet 0.5x. README: 66.9% top-1, 2.3M params, 43M MACs.
_base_ = './repghostnet-1.0x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=480))
