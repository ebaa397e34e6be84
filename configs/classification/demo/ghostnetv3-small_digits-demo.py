# The classification demo on real images: GhostNetV3-Small 1.0x on scikit-learn's handwritten
# digits (`python -m mmghost.datasets.demo_digits --out data/demo_digits`: 1,438 train / 359
# held-out val images, 8x8 scans upscaled to 32x32, no download), with EMA. Only data, the
# augmentation (no flips: a mirrored digit is another symbol) and EMA differ from the shapes
# demo it inherits.
_base_ = ['./ghostnetv3-small_shapes-demo.py']

data_root = 'data/demo_digits'
classes = tuple(str(i) for i in range(10))

model = dict(
    data_preprocessor=dict(num_classes=10, mean=[80.0, 80.0, 80.0], std=[90.0, 90.0, 90.0]),
    head=dict(num_classes=10))

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=2),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, classes=classes, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, classes=classes))
test_dataloader = val_dataloader

# EMA over about the last 100 iterations (45 per epoch); validation, test and the saved
# checkpoint use the averaged weights.
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]
