# SSDLite at 320x320 with a GhostNetV3 1.0x backbone, from mmdet's SSDLite-MobileNetV2: taps
# at strides 16 and 32 (blocks.6/9: 112 and 960 channels, where MobileNetV2 gives 96 and
# 1280), mmdet's SSD neck (four depth-wise extra levels) and SSDLite head. The backbone starts
# from the published ImageNet weights (mmghost://NAME; `init_cfg=None` trains from scratch,
# as mmdet's MobileNetV2 config does).
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'

pretrained = 'mmghost://ghostnetv3-1.0x_3rdparty_in1k'  # the authors' EMA weights, 77.1% top-1
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmghost.GhostNetV3',
        widen_factor=1.0,
        out_indices=(6, 9),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(112, 960), out_channels=(112, 960, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(112, 960, 512, 256, 256, 128)))
