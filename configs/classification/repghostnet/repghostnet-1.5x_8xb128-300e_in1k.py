# RepGhostNet 1.5x. README: 77.5% top-1, 6.6M params, 301M MACs.
_base_ = './repghostnet-1.3x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=1.5), head=dict(in_channels=1440))
