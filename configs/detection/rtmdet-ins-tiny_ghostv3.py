# RTMDet-Ins-tiny (instance segmentation) at 640x640 with a GhostNetV3 1.0x backbone in place
# of CSPNeXt-tiny: taps blocks.4/6/8 (strides 8/16/32, 40/112/160 channels), mmdet's
# CSPNeXtPAFPN and RTMDet-Ins head unchanged. The light counterpart of mask-rcnn_ghostv3.py.
_base_ = 'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py'

pretrained = 'mmghost://ghostnetv3-1.0x_3rdparty_in1k'  # the authors' EMA weights, 77.1% top-1
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmghost.GhostNetV3',
        widen_factor=1.0,
        out_indices=(4, 6, 8),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[40, 112, 160]))
