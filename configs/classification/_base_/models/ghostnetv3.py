# GhostNetV3 1.0x ImageNet classifier: GhostNet's classifier with the backbone swapped.
_base_ = './ghostnet.py'
model = dict(backbone=dict(type='mmghost.GhostNetV3'))
