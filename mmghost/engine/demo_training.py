"""Any single-stage detector config, trained on the generated demo set with one schedule: the
light-detector benchmark's accuracy column (``benchmarks/light_detectors.py --train-demo``)."""
from mmghost.datasets.demo_coco import DEMO_COCO_CLASSES

__all__ = ['demo_detection_config']


def demo_detection_config(config, data_root: str = 'data/demo_coco/', size: int = 128,
                          epochs: int = 24, batch_size: int = 8, lr: float = 1e-3,
                          seed: int = 0, num_workers: int = 2):
    """Any single-stage detector config trained from scratch on the demo set, one schedule.

    ``config`` (a path, an ``mmdet::`` name or a Config) keeps its model; data, pipeline and
    schedule are replaced by the same ones for every detector, so their demo mAPs compare:
    the demo's 3 classes, the pictures resized to ``size`` x ``size`` with random flips (no
    mosaic, mix-up or photometric augmentation, which each detector family does differently),
    AdamW at ``lr`` with a linear warm-up and a cosine decay over ``epochs``, batch
    ``batch_size``, ``seed``, COCO bbox mAP on the val split at the end. The backbone starts
    from random weights with its BN layers training; heads keep their own assigners and
    losses. Batch augments (YOLOX's random resize), EMA and pipeline-switch hooks are dropped.
    """
    from mmghost.models.utils.builder import load_config
    cfg = load_config(config)
    if not data_root.endswith('/'):
        data_root += '/'
    if cfg.model.get('bbox_head', None) is None or cfg.model.get('roi_head', None) is not None:
        raise ValueError('demo_detection_config takes single-stage detectors (a bbox_head, no '
                         'roi_head); two-stage ones train with their own demo config')
    metainfo = dict(classes=DEMO_COCO_CLASSES,
                    palette=[(220, 20, 60), (0, 128, 255), (0, 180, 0)])
    scale = (size, size)
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=scale, keep_ratio=False),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=False),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]

    def dataset(split, pipeline):
        return dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                    ann_file=f'annotations/instances_{split}.json',
                    data_prefix=dict(img=f'{split}/'), pipeline=pipeline,
                    filter_cfg=dict(filter_empty_gt=split == 'train', min_size=1))

    def loader(split, pipeline, shuffle):
        return dict(batch_size=batch_size, num_workers=num_workers,
                    persistent_workers=num_workers > 0, drop_last=False,
                    sampler=dict(type='DefaultSampler', shuffle=shuffle),
                    dataset=dataset(split, pipeline))

    model = cfg.model
    model.backbone.init_cfg = None
    model.backbone.norm_eval = False
    model.bbox_head.num_classes = len(DEMO_COCO_CLASSES)
    model.data_preprocessor.pop('batch_augments', None)
    anchors = model.bbox_head.get('anchor_generator', None)
    if anchors is not None and anchors.get('type') == 'SSDAnchorGenerator':
        _scale_ssd_anchors(cfg, size)
    cfg.train_dataloader = loader('train', train_pipeline, True)
    cfg.val_dataloader = loader('val', test_pipeline, False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = dict(type='CocoMetric', metric='bbox', format_only=False,
                             ann_file=data_root + 'annotations/instances_val.json')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=epochs)
    cfg.val_cfg = dict(type='ValLoop')
    cfg.test_cfg = dict(type='TestLoop')
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05),
        paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., bypass_duplicate=True),
        clip_grad=dict(max_norm=10, norm_type=2))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
        dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0, end=epochs,
             eta_min=0.)]
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    cfg.custom_hooks = [dict(type='mmghost.ChannelsLastHook')]
    cfg.randomness = dict(seed=seed)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=batch_size)
    cfg.pop('load_from', None)
    cfg.resume = False
    return cfg


def _scale_ssd_anchors(cfg, size: int) -> None:
    """SSD's anchors are absolute pixel sizes for its design input (the largest ``max_sizes``,
    320 for SSDLite): scale them to ``size``, and give each level the stride its feature map
    really has at ``size`` (measured by running backbone and neck once)."""
    import torch

    from mmghost.models.utils.builder import build_from_config
    anchors = cfg.model.bbox_head.anchor_generator
    if anchors.get('min_sizes') is None:
        raise ValueError('SSDAnchorGenerator without min_sizes/max_sizes: give them explicitly '
                         'so the demo can scale them to its input size')
    design = max(anchors.max_sizes)
    if size == design:
        return
    with torch.no_grad():
        feats = build_from_config(cfg).extract_feat(torch.zeros(1, 3, size, size))
    anchors.strides = [size / f.shape[-1] for f in feats]
    anchors.min_sizes = [round(v * size / design, 2) for v in anchors.min_sizes]
    anchors.max_sizes = [round(v * size / design, 2) for v in anchors.max_sizes]
