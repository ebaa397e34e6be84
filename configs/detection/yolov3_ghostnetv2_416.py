# YOLOv3 with GhostNetV2 1.0x (multi-scale 320-416 training, 416x416 test).
_base_ = './yolov3_ghostv3_416.py'
model = dict(
    backbone=dict(
        type='mmghost.GhostNetV2',
        init_cfg=dict(checkpoint='mmghost://ghostnetv2-1.0x_3rdparty_in1k')))
