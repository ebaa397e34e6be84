# YOLOv3 with GhostNet (V1) 1.1x (at 320x320).
_base_ = './yolov3_ghostv3_320.py'
model = dict(
    backbone=dict(
        type='mmghost.GhostNet',
        widen_factor=1.1,
        init_cfg=None),  # no published GhostNet 1.1x weights: trained from scratch
    neck=dict(in_channels=[1056, 124, 44]))
