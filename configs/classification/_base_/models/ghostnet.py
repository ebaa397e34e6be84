# GhostNet 1.0x ImageNet classifier with the reference head: global average pooling, then
# the 1x1 conv_head (1280, bias, ReLU) as a hidden linear layer, dropout 0.2, classifier.
# Types carry their scope so the file can be inherited from any package (mmghost::...).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='mmghost.GhostNet', widen_factor=1.0, out_indices=(9, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.StackedLinearClsHead',
        num_classes=1000,
        in_channels=960,
        mid_channels=[1280],
        dropout_rate=0.2,
        act_cfg=dict(type='ReLU'),
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
