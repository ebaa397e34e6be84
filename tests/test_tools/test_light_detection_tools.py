"""A light detector through the tools a user runs: RTMDet-tiny with GhostNetV3 and GhostPAFPN,
trained for 60 steps on 4 generated 96-px pictures (it learns them: bbox mAP about 0.7), exported
whole to ONNX / OpenVINO and to ncnn (raw head maps, decoded after the graph), evaluated by
``test_deployed.py --compare`` in each runtime (the same detections as PyTorch on every image,
the same COCO mAP), and quantized to INT8 with ``quantize.py``.

Stated bound (this tiny model, 4 calibration images, 4 test pictures): ONNX Runtime's INT8
loses at most 0.1 bbox mAP. Three runs on 2026-12-07 lost 0.007, -0.017 and 0.072: with 4
pictures one changed box moves the mAP by several hundredths, so the issue's 0.01 goal needs a
real validation set, not this test. The OpenVINO (NNCF) INT8 row is run and reported, not
bounded: on this model it has lost far more (docs/light_detection.md).
"""
import os.path as osp

import pytest
from tool_runner import run_tools

pytest.importorskip('onnxruntime')
pytest.importorskip('openvino')
pytest.importorskip('nncf')
pytest.importorskip('pnnx')
pytest.importorskip('ncnn')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools')
BASE = osp.join(REPO, 'configs', 'detection', 'rtmdet-tiny_ghostv3-ghostpafpn_320.py')
INT8_BOUND = 0.1

CONFIG = '''
_base_ = {base!r}
root = {root!r}
metainfo = dict(classes=('circle', 'square', 'triangle'))
model = dict(backbone=dict(init_cfg=None, norm_eval=False), bbox_head=dict(num_classes=3))
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(96, 96), keep_ratio=True), dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
_val = dict(data_root=root, metainfo=metainfo, ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'), pipeline=test_pipeline)
# It learns the 4 pictures it is tested on: a detector whose mAP an INT8 error can move.
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        batch_sampler=None,
                        dataset=dict(_val, pipeline=train_pipeline, filter_cfg=None))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=_val)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
custom_hooks = []
train_cfg = dict(max_epochs=60, val_interval=60, dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=4e-3, weight_decay=0.0))
param_scheduler = []
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=60))
randomness = dict(seed=0)
'''


def test_rtmdet_ghostpafpn_deploys_to_every_runtime_and_int8(tmp_path):
    from mmghost.datasets.demo_coco import make_demo_coco
    make_demo_coco(str(tmp_path / 'coco'), num_train=4, num_val=4, size=96, seed=1)
    (tmp_path / 'rtm.py').write_text(CONFIG.format(base=BASE, root=str(tmp_path / 'coco') + '/'))
    dep = osp.join(TOOLS, 'deployment')
    code = f'''
import shutil
tool({osp.join(TOOLS, 'train.py')!r}, 'rtm.py', '--work-dir', 'w_train')
shutil.copy('w_train/epoch_60.pth', 'rtm.pth')
m = {{}}
_, m['torch'] = tool({osp.join(TOOLS, 'test.py')!r}, 'rtm.py', 'rtm.pth', '--work-dir', 'w_t')
tool({dep + '/pytorch2onnx.py'!r}, 'rtm.py', 'rtm.pth', 'rtm.onnx', '--shape', '96',
     '--dynamic-hw', '--check-shapes', '97,131', '--openvino', 'rtm.xml')
tool({dep + '/pytorch2ncnn.py'!r}, 'rtm.py', 'rtm.pth', 'rtm.ncnn.param', '--shape', '96',
     '--check-shapes', '97,131')
for backend, f in (('onnxruntime', 'rtm.onnx'), ('openvino', 'rtm.xml'),
                   ('ncnn', 'rtm.ncnn.param')):
    _, m[backend] = tool({dep + '/test_deployed.py'!r}, 'rtm.py', f, '--backend', backend,
                         '--work-dir', 'w_' + backend, '--compare', 'rtm.pth')
tool({dep + '/quantize.py'!r}, 'rtm.py', 'rtm.onnx', 'rtm-int8.onnx', '--num-images', '4')
tool({dep + '/quantize.py'!r}, 'rtm.py', 'rtm.onnx', 'rtm-int8.xml', '--num-images', '4',
     '--backend', 'openvino')
_, m['ort_int8'] = tool({dep + '/test_deployed.py'!r}, 'rtm.py', 'rtm-int8.onnx',
                        '--work-dir', 'w_q')
_, m['ov_int8'] = tool({dep + '/test_deployed.py'!r}, 'rtm.py', 'rtm-int8.xml', '--backend',
                       'openvino', '--work-dir', 'w_qov')
rc = tool({dep + '/test_deployed.py'!r}, 'rtm.py', 'rtm.ncnn.param', '--backend',
          'onnxruntime', '--work-dir', 'w_bad', check=False)[0]
result(m=m, rc=rc)
'''
    res, out = run_tools(code, tmp_path, timeout=900)
    m = res['m']
    mAP = m['torch']['coco/bbox_mAP']
    assert mAP >= 0.3, mAP  # it learnt its pictures: INT8 error can show
    for backend in ('onnxruntime', 'openvino', 'ncnn'):
        assert abs(m[backend]['coco/bbox_mAP'] - mAP) <= 0.002, (backend, m[backend])
    # --compare: every image gives PyTorch's detections, in each of the three runtimes
    assert out.count('4 of 4 images give the same detections above score_thr') == 3, out[-3000:]
    assert 'ncnn vs PyTorch at 2x3x97x131' in out
    assert mAP - m['ort_int8']['coco/bbox_mAP'] <= INT8_BOUND, (mAP, m['ort_int8'])
    print(f'bbox mAP: PyTorch {mAP:.3f}, ORT INT8 {m["ort_int8"]["coco/bbox_mAP"]:.3f}, '
          f'OpenVINO INT8 {m["ov_int8"]["coco/bbox_mAP"]:.3f}')
    assert 0 <= m['ov_int8']['coco/bbox_mAP'] <= 1
    assert res['rc'] == 1  # an ncnn model given to ONNX Runtime: one message, no crash
    assert 'rtm.ncnn.param is an ncnn model: run it with backend ncnn (--backend ncnn)' in out
