# The light line of rtmdet-tiny_ghostnet.py (GhostNet 1.0x, 640x640): mmghost's GhostPAFPN
# in place of CSPNeXtPAFPN, fusing with GhostNet's own Ghost bottlenecks (GhostModule),
# and the RTMDet head's stacked 3x3 convs depth-wise separable (one set per level: mmdet
# shares convs between levels only for plain ConvModules), so that the backbone, not the neck
# and head, holds most of the compute.
_base_ = './rtmdet-tiny_ghostnet.py'

model = dict(
    neck=dict(
        _delete_=True,
        type='mmghost.GhostPAFPN',
        in_channels=[40, 112, 160],
        out_channels=96,
        block_cfg=dict(ghost_cfg=dict(type='GhostModule'))),
    bbox_head=dict(use_depthwise=True, share_conv=False))
