# SSDLite at 320x320 with a RepGhostNet 1.0x backbone (see ssdlite_ghostv3_320.py): taps
# blocks.6/9 (strides 16/32, 112 and 960 channels).
_base_ = './ssdlite_ghostv3_320.py'

pretrained = 'mmghost://repghostnet-1.0x_3rdparty_in1k'
model = dict(
    backbone=dict(
        type='mmghost.RepGhostNet',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
