# CIFAR-10 as in GhostNetV3-Small's recipe (arXiv 2509.12380; PML utils.py): 256 images a
# batch, RandomCrop(32, padding=4) + horizontal flip, mean/std (0.4914, 0.4822, 0.4465) /
# (0.2471, 0.2435, 0.2616) of 255. The seed code kept its best epoch on the test split; here
# the last 5,000 training images (indices 45000..49999) are held out to validate and pick
# the checkpoint, training sees indices 0..44999, and the test split is evaluated once, with
# tools/test.py on the selected checkpoint.
_base_ = 'mmpretrain::_base_/datasets/cifar10_bs16.py'

data_root = 'data/cifar10'
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[63.0105, 62.0925, 66.708],
    to_rgb=False)

# `indices` is mmengine BaseDataset's subset argument: an int n keeps the first n samples,
# -n the last n (the train split has 50,000, in file order).
train_dataloader = dict(
    batch_size=256, num_workers=4, dataset=dict(data_root=data_root, indices=45000))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(data_root=data_root, split='train', indices=-5000))
test_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(data_root=data_root, split='test'))
