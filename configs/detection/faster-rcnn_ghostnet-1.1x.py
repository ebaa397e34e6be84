# Faster R-CNN with GhostNet (V1) 1.1x, as in the GhostNet paper's Table 8.
_base_ = './faster-rcnn_ghostv3.py'
model = dict(
    backbone=dict(
        type='mmghost.GhostNet',
        widen_factor=1.1,
        init_cfg=None),  # no published GhostNet 1.1x weights: trained from scratch
    neck=dict(in_channels=[28, 44, 124, 1056]))
