# Re-parameterized (deploy) form of retinanet_ghostv3.py: load a checkpoint converted with
# switch_to_deploy; it has the same outputs in fewer, fused convs.
_base_ = './retinanet_ghostv3.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
