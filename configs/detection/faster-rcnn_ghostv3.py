# Faster R-CNN with a GhostNetV3 1.0x backbone, FPN (strides 4-32), 1x schedule on COCO.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

pretrained = 'mmghost://ghostnetv3-1.0x_3rdparty_in1k'  # the authors' EMA weights, 77.1% top-1
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmghost.GhostNetV3',
        widen_factor=1.0,
        out_indices=(2, 4, 6, 9),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[24, 40, 112, 960]))
