# RTMDet-tiny at 640x640 with a GhostNet 1.0x backbone (see rtmdet-tiny_ghostv3.py): taps
# blocks.4/6/8 (strides 8/16/32, 40/112/160 channels).
_base_ = './rtmdet-tiny_ghostv3.py'

pretrained = 'mmghost://ghostnet-1.0x_3rdparty_in1k'
model = dict(
    backbone=dict(
        type='mmghost.GhostNet',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
