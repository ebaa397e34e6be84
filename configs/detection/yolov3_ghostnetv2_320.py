# YOLOv3 with GhostNetV2 1.0x (at 320x320).
_base_ = './yolov3_ghostv3_320.py'
model = dict(
    backbone=dict(
        type='mmghost.GhostNetV2',
        init_cfg=dict(checkpoint='mmghost://ghostnetv2-1.0x_3rdparty_in1k')))
