# Re-parameterized (deploy) form of mask-rcnn_ghostv3.py.
_base_ = './mask-rcnn_ghostv3.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
