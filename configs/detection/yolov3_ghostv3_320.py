# YOLOv3 with a GhostNetV3 1.0x backbone (at 320x320), following
# mmdet's YOLOv3-MobileNetV2 config: taps at strides 8/16/32 (blocks.4/6/9: 40/112/960
# channels), listed deepest-first for the neck. GhostNetV3 paper Table 10: 22.7 (320) /
# 24.6 (416) mAP vs MobileNetV2's 22.2 / 23.9.
_base_ = 'mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py'

pretrained = 'mmghost://ghostnetv3-1.0x_3rdparty_in1k'  # the authors' EMA weights, 77.1% top-1
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmghost.GhostNetV3',
        widen_factor=1.0,
        out_indices=(4, 6, 9),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[960, 112, 40]))
