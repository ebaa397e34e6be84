# Re-parameterized (deploy) form of mask-rcnn_repghost-1.3x.py.
_base_ = './mask-rcnn_repghost-1.3x.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
