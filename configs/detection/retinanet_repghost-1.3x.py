# RetinaNet with RepGhostNet 1.3x, as in the RepGhost paper's Table 4.
_base_ = './retinanet_ghostv3.py'
model = dict(
    backbone=dict(
        type='mmghost.RepGhostNet',
        widen_factor=1.3,
        init_cfg=dict(checkpoint='mmghost://repghostnet-1.3x_3rdparty_in1k')),
    neck=dict(in_channels=[32, 52, 144, 1248]))
