# RepGhostNet 0.8x. README: 72.2% top-1, 3.3M params, 96M MACs.
_base_ = './repghostnet-1.0x_8xb128-300e_in1k.py'

model = dict(backbone=dict(widen_factor=0.8), head=dict(in_channels=768))
