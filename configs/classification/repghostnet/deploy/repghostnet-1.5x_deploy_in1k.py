# RepGhostNet 1.5x in deploy form (fused RepGhost modules), to test a re-parameterized
# checkpoint: the state_dict of a trained model after mmghost.switch_to_deploy.
_base_ = '../repghostnet-1.5x_8xb128-300e_in1k.py'

model = dict(backbone=dict(deploy=True))
