# GhostNetV3-Small 2.8x CIFAR-10 classifier (32x32 inputs, stem stride 1) with the reference
# head: global average pooling, conv_head as a 1280-wide hidden layer, dropout 0.2, 10 classes.
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.307, 122.961, 113.8575],
        std=[63.0105, 62.0925, 66.708],
        to_rgb=False),
    backbone=dict(type='mmghost.GhostNetV3Small', widen_factor=2.8, out_indices=(7, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.StackedLinearClsHead',
        num_classes=10,
        in_channels=448,
        mid_channels=[1280],
        dropout_rate=0.2,
        act_cfg=dict(type='ReLU'),
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
