# RTMDet-tiny at 640x640 with a GhostNetV3 1.0x backbone in place of CSPNeXt-tiny, mmdet's
# CSPNeXtPAFPN and RTMDet head unchanged. Taps at strides 8/16/32 are blocks.4/6/8 (40, 112
# and 160 channels; CSPNeXt-tiny gives 96/192/384); the final 1x1 conv (blocks.9, 960
# channels, for classification) is not run. The backbone starts from the published ImageNet
# weights (mmghost://NAME; `init_cfg=None` trains from scratch).
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'

pretrained = 'mmghost://ghostnetv3-1.0x_3rdparty_in1k'  # the authors' EMA weights, 77.1% top-1
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmghost.GhostNetV3',
        widen_factor=1.0,
        out_indices=(4, 6, 8),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[40, 112, 160]))
