# GhostNetV3 1.3x in deploy form (every re-parameterizable branch fused), to test a
# re-parameterized checkpoint: the state_dict of a trained model (KD or not) after
# mmghost.switch_to_deploy.
_base_ = '../ghostnetv3-1.3x_8xb256-lamb-600e_in1k.py'

model = dict(backbone=dict(deploy=True))
