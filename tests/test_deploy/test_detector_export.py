"""mmghost.deploy.detector_export: RetinaNet and YOLOv3 exported whole (decoding and NMS in the
graph) give mmdet's own predictions, in ONNX Runtime and in OpenVINO, at odd and dynamic sizes."""
import os.path as osp

import numpy as np
import pytest
import torch

from helpers import calibrate_bn, normalize_outputs
from mmghost.models.utils import build_from_config, load_config

pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINA = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')
YOLO = osp.join(REPO, 'configs', 'detection', 'yolov3_ghostv3_320.py')


def _detector(config, head_convs, head_std=0.7, **model):
    """A random detector whose heads give spread scores and boxes near their anchors: BN
    statistics calibrated, each neck and head conv scaled to unit output spread (``head_convs``:
    the prediction convs, scaled to ``head_std``)."""
    torch.manual_seed(0)  # module fixtures are built before the per-test seed
    cfg = load_config(config)
    cfg.model.update(model)
    det = build_from_config(cfg)
    x = torch.randn(8, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    calibrate_bn(det, lambda m: m.extract_feat(x))
    head = det.bbox_head
    last = [getattr(head, n) for n in head_convs]
    last = [c for m in last for c in (m if isinstance(m, torch.nn.ModuleList) else [m])]
    convs = [m for m in list(det.neck.modules()) + list(head.modules())
             if isinstance(m, torch.nn.Conv2d) and m not in last]
    run = lambda m: head(m.extract_feat(x))  # noqa: E731
    normalize_outputs(det, run, convs)
    return normalize_outputs(det, run, last, std=head_std)


@pytest.fixture(scope='module')
def retinanet():
    det = _detector(RETINA, ('retina_cls', 'retina_reg'),
                    backbone=dict(widen_factor=0.5, out_indices=(2, 4, 6, 9), init_cfg=None),
                    neck=dict(in_channels=[12, 20, 56, 480]))
    with torch.no_grad():
        det.bbox_head.retina_cls.bias.fill_(-1.0)  # scores around 0.3
        det.bbox_head.retina_reg.weight.mul_(0.1)  # deltas of spread 0.1: near the anchors
    return det


@pytest.fixture(scope='module')
def yolov3():
    det = _detector(YOLO, ('convs_pred', ), 0.3, backbone=dict(widen_factor=0.5, init_cfg=None),
                    neck=dict(in_channels=[480, 56, 20]), bbox_head=dict(num_classes=3))
    with torch.no_grad():  # box energies of spread 0.2: boxes near their anchors
        for conv in det.bbox_head.convs_pred:
            w = conv.weight.view(3, det.bbox_head.num_attrib, *conv.weight.shape[1:])
            w[:, :4].mul_(0.2)
    return det


def mmdet_predictions(det, x):
    from mmghost.models.utils import det_samples
    with torch.no_grad():
        return [s.pred_instances for s in det.predict(x, det_samples(x), rescale=False)]


def assert_same_detections(ref, boxes, scores, labels, rtol=1e-3):
    """The same detections (count, label of each, box within ``rtol`` of the largest
    coordinate, score within 1e-4), in any order among near-equal scores; empty slots last."""
    keep = scores > 0
    assert int(keep.sum()) == len(ref.scores) > 0, (int(keep.sum()), len(ref.scores))
    assert (labels[~keep] == -1).all() and (scores[~keep] == 0).all()
    assert keep[:int(keep.sum())].all() and (np.diff(scores[keep]) <= 1e-6).all()
    ref_boxes, ref_labels, ref_scores = (t.numpy()
                                         for t in (ref.bboxes, ref.labels, ref.scores))
    scale = np.abs(ref_boxes).max()
    free = np.ones(int(keep.sum()), bool)
    for box, label, score in zip(ref_boxes, ref_labels, ref_scores):
        candidates = np.flatnonzero(free & (labels[keep] == label) &
                                    (np.abs(scores[keep] - score) <= 1e-4))
        assert len(candidates), (label, score)
        dist = np.abs(boxes[keep][candidates] - box).max(1)
        assert dist.min() <= rtol * scale, (dist.min(), box)
        free[candidates[dist.argmin()]] = False


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('name', ['retinanet', 'yolov3'])
def test_exported_detector_gives_mmdets_predictions(name, backend, request, tmp_path):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.deploy import create_backend, export_detector, read_metadata
    det = request.getfixturevalue(name)
    path = str(tmp_path / f'{name}.onnx')
    info = export_detector(det, path, shape=(96, 96), dynamic_hw=True)
    meta = read_metadata(path)
    assert meta['task'] == 'detector' and meta['num_classes'] == '3'
    assert info['output_names'] == ['boxes', 'scores', 'labels']
    run = create_backend(backend, path)
    sizes = [(96, 96), (128, 160)] if name == 'yolov3' else [(96, 96), (97, 131), (64, 200)]
    for i, (h, w) in enumerate(sizes):
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(i + 1))
        boxes, scores, labels = run(x.numpy())
        assert boxes.shape == (2, 100, 4) and labels.dtype == np.int64
        for b, ref in enumerate(mmdet_predictions(det, x)):
            assert_same_detections(ref, boxes[b], scores[b], labels[b])


def test_static_export_and_test_cfg_are_honoured(retinanet, tmp_path):
    from mmghost.deploy import create_backend, export_detector
    from mmengine.config import ConfigDict
    cfg = ConfigDict(retinanet.bbox_head.test_cfg, score_thr=0.5, max_per_img=7, nms_pre=50)
    path = str(tmp_path / 'static.onnx')
    export_detector(retinanet, path, shape=(96, 96), dynamic_batch=False, test_cfg=cfg)
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(5))
    boxes, scores, labels = create_backend('onnxruntime', path)(x.numpy())
    assert boxes.shape == (1, 7, 4) and (scores[scores > 0] > 0.5).all()
    retinanet.bbox_head.test_cfg, saved = cfg, retinanet.bbox_head.test_cfg
    try:
        ref, = mmdet_predictions(retinanet, x)
    finally:
        retinanet.bbox_head.test_cfg = saved
    assert_same_detections(ref, boxes[0], scores[0], labels[0])
