# Re-parameterized (deploy) form of yolov3_ghostv3_416.py.
_base_ = './yolov3_ghostv3_416.py'
model = dict(backbone=dict(deploy=True, init_cfg=None))
