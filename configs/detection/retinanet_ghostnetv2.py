# RetinaNet with GhostNetV2 1.0x.
_base_ = './retinanet_ghostv3.py'
model = dict(
    backbone=dict(
        type='mmghost.GhostNetV2',
        init_cfg=dict(checkpoint='mmghost://ghostnetv2-1.0x_3rdparty_in1k')))
