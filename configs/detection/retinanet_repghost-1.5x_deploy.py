# Re-parameterized (deploy) form of retinanet_repghost-1.5x.py.
_base_ = './retinanet_repghost-1.5x.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
