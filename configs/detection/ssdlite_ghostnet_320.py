# SSDLite at 320x320 with a GhostNet 1.0x backbone (see ssdlite_ghostv3_320.py): taps
# blocks.6/9 (strides 16/32, 112 and 960 channels). PaddleDetection's SSDLite-GhostNet reaches
# 23.3 COCO AP at 320 (mmdet's SSDLite-MobileNetV2: 21.3).
_base_ = './ssdlite_ghostv3_320.py'

pretrained = 'mmghost://ghostnet-1.0x_3rdparty_in1k'
model = dict(
    backbone=dict(
        type='mmghost.GhostNet',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
