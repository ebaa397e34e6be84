# rtmdet-tiny_repghost.py at 416x416: mmdet's RTMDet-tiny pipelines with every size scaled by 416/640.
_base_ = './rtmdet-tiny_repghost.py'

input_size = 416


def _scaled(pipeline):
    keys = ('img_scale', 'scale', 'crop_size', 'size')
    return [dict(t, **{k: tuple(v * input_size // 640 for v in t[k]) for k in keys if k in t})
            for t in pipeline]


train_pipeline = _scaled(_base_.train_pipeline)
train_pipeline_stage2 = _scaled(_base_.train_pipeline_stage2)
test_pipeline = _scaled(_base_.test_pipeline)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [
    dict(h, switch_pipeline=train_pipeline_stage2) if h.type == 'PipelineSwitchHook' else h
    for h in _base_.custom_hooks
]
