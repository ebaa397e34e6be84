# The KD demo: the 1.0x digits student distilled from the 1.6x teacher trained first with
# ghostnetv3-small-1.6x_digits-teacher.py (its last checkpoint, read from the path below; the
# teacher is frozen and re-parameterized after loading). Loss: 0.5 * CE + 0.5 * tau^2 * KL.
_base_ = ['./ghostnetv3-small_digits-demo.py']
teacher_checkpoint = 'work_dirs/digits_teacher/epoch_20.pth'
model = dict(
    type='mmghost.KDImageClassifier',
    teachers=[
        dict(
            config='mmghost::classification/demo/ghostnetv3-small-1.6x_digits-teacher.py',
            checkpoint=teacher_checkpoint)
    ],
    alpha=0.5,
    tau=2.0)
