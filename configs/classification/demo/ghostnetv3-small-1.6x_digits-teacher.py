# The teacher of the KD demo: GhostNetV3-Small 1.6x (2x the student's parameters) trained on
# the digits exactly like the 1.0x demo.
#   python tools/train.py configs/classification/demo/ghostnetv3-small-1.6x_digits-teacher.py \
#       --work-dir work_dirs/digits_teacher
_base_ = ['./ghostnetv3-small_digits-demo.py']
model = dict(backbone=dict(widen_factor=1.6), head=dict(in_channels=256))
