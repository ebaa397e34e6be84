# RetinaNet with a GhostNetV3 1.0x backbone, FPN, 1x schedule on COCO.
# Taps: blocks.2/4/6/9 (strides 4/8/16/32, channels 24/40/112/960); FPN starts at stride 8
# as in mmdet's RetinaNet. The backbone starts from the published ImageNet weights
# (mmghost://NAME: downloaded once, converted on load; see docs/model_zoo.md); set
# `init_cfg=None` to train from scratch.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

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
