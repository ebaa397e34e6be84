# Re-parameterized (deploy) form of faster-rcnn_ghostv3.py.
_base_ = './faster-rcnn_ghostv3.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
