"""mmghost.export.detector_export: RetinaNet (every backbone family), YOLOv3 and Faster / Mask
R-CNN exported whole (decoding, RoI Align and NMS in the graph) give mmdet's own predictions, in
ONNX Runtime and in OpenVINO, at odd and dynamic sizes."""
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


def _detector(config, head_convs, head_std=0.7, size=96, **model):
    """A random detector whose heads give spread scores and boxes near their anchors: BN
    statistics calibrated, each neck and head conv scaled to unit output spread (``head_convs``:
    the prediction convs, scaled to ``head_std``)."""
    torch.manual_seed(0)  # module fixtures are built before the per-test seed
    cfg = load_config(config)
    cfg.model.update(model)
    det = build_from_config(cfg)
    x = torch.randn(8, 3, size, size, generator=torch.Generator().manual_seed(0))
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


def assert_same_detections(ref, boxes, scores, labels, rtol=1e-3, score_atol=1e-4):
    """The same detections (count, label of each, box within ``rtol`` of the largest
    coordinate, score within ``score_atol``), in any order among near-equal scores; empty
    slots last."""
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
                                    (np.abs(scores[keep] - score) <= score_atol))
        assert len(candidates), (label, score)
        dist = np.abs(boxes[keep][candidates] - box).max(1)
        assert dist.min() <= rtol * scale, (dist.min(), box)
        free[candidates[dist.argmin()]] = False


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('name', ['retinanet', 'yolov3'])
def test_exported_detector_gives_mmdets_predictions(name, backend, request, tmp_path):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.export import export_detector
    from mmghost.runtime import create_backend, read_metadata
    det = request.getfixturevalue(name)
    path = str(tmp_path / f'{name}.onnx')
    info = export_detector(det, path, shape=(96, 96), dynamic_hw=True)
    meta = read_metadata(path)
    assert meta['task'] == 'detector' and meta['num_classes'] == '3'
    assert meta['channel_layout'] == 'aligned to 16 channels'  # the default, in both runtimes
    assert info['output_names'] == ['boxes', 'scores', 'labels']
    run = create_backend(backend, path)
    sizes = [(96, 96), (128, 160)] if name == 'yolov3' else [(96, 96), (97, 131), (64, 200)]
    for i, (h, w) in enumerate(sizes):
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(i + 1))
        boxes, scores, labels = run(x.numpy())
        assert boxes.shape == (2, 100, 4) and labels.dtype == np.int64
        for b, ref in enumerate(mmdet_predictions(det, x)):
            assert_same_detections(ref, boxes[b], scores[b], labels[b])


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('config', ['retinanet_ghostnet-1.1x.py', 'retinanet_ghostnetv2.py',
                                    'retinanet_repghost-1.3x.py'])
def test_every_backbone_family_exports_whole(config, backend, tmp_path):
    """The other families' RetinaNets (GhostNet's plain Ghost modules, GhostNetV2's DFC gates
    under a dynamic H x W, RepGhostNet fused for export) give mmdet's predictions too."""
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.export import export_detector
    from mmghost.runtime import create_backend
    det = _detector(osp.join(REPO, 'configs', 'detection', config), ('retina_cls', 'retina_reg'),
                    backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))
    with torch.no_grad():
        det.bbox_head.retina_cls.bias.fill_(-1.0)
        det.bbox_head.retina_reg.weight.mul_(0.1)
    path = str(tmp_path / 'det.onnx')
    export_detector(det, path, shape=(96, 96), dynamic_hw=True)
    run = create_backend(backend, path)
    x = torch.randn(2, 3, 97, 131, generator=torch.Generator().manual_seed(1))
    boxes, scores, labels = run(x.numpy())
    for b, ref in enumerate(mmdet_predictions(det, x)):
        assert_same_detections(ref, boxes[b], scores[b], labels[b])


def test_static_export_and_test_cfg_are_honoured(retinanet, tmp_path):
    from mmghost.export import export_detector
    from mmghost.runtime import create_backend
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


def _two_stage(config):
    """A random Faster / Mask R-CNN whose RPN and box head give spread scores: BN calibrated,
    neck and RPN convs scaled to unit output spread, objectness and class logits widened."""
    torch.manual_seed(0)
    cfg = load_config(osp.join(REPO, 'configs', 'detection', config))
    cfg.model.backbone.update(widen_factor=0.5, init_cfg=None)
    cfg.model.neck.in_channels = [12, 20, 56, 480]
    cfg.model.roi_head.bbox_head.num_classes = 3
    if 'mask_head' in cfg.model.roi_head:
        cfg.model.roi_head.mask_head.num_classes = 3
    det = build_from_config(cfg)
    x = torch.randn(4, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    calibrate_bn(det, lambda m: m.extract_feat(x))
    convs = [m for m in list(det.neck.modules()) + list(det.rpn_head.modules())
             if isinstance(m, torch.nn.Conv2d)]
    normalize_outputs(det, lambda m: m.rpn_head(m.extract_feat(x)), convs)
    with torch.no_grad():
        det.rpn_head.rpn_cls.weight.mul_(3.0)
        det.rpn_head.rpn_reg.weight.mul_(0.1)  # proposals near their anchors
        det.roi_head.bbox_head.fc_cls.weight.mul_(20.0)  # softmax scores well above 0.05
        det.roi_head.bbox_head.fc_reg.weight.mul_(0.1)
    return det.eval()


@pytest.fixture(scope='module')
def faster_rcnn():
    return _two_stage('faster-rcnn_ghostv3.py')


@pytest.fixture(scope='module')
def mask_rcnn():
    return _two_stage('mask-rcnn_ghostv3.py')


def _samples(x):
    from mmghost.models.utils import det_samples
    return det_samples(x)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('name', ['faster_rcnn', 'mask_rcnn'])
def test_exported_two_stage_detector_gives_mmdets_predictions(name, backend, request,
                                                              tmp_path):
    """RPN proposals, multi-level RoI Align, the box head's class-wise boxes and NMS in one
    graph; Mask R-CNN's masks, pasted by the shared post-processing, are mmdet's."""
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.export import export_detector
    from mmghost.runtime import DeployedModel, read_metadata
    det = request.getfixturevalue(name)
    path = str(tmp_path / f'{name}.onnx')
    info = export_detector(det, path, shape=(96, 96), dynamic_hw=True)
    with_mask = name == 'mask_rcnn'
    assert info['output_names'] == ['boxes', 'scores', 'labels'] + ['masks'] * with_mask
    meta = read_metadata(path)
    assert meta['head'] == 'two_stage' and meta['detector'] == type(det).__name__
    import onnx
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert {'RoiAlign', 'NonMaxSuppression'} <= ops
    deployed = DeployedModel(path, backend)
    for i, (h, w) in enumerate([(96, 96), (97, 131)]):
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(i + 1))
        with torch.no_grad():
            refs = det.predict(x, _samples(x), rescale=True)
        raw = deployed.session(x.numpy())
        assert raw[0].shape == (2, 100, 4)
        gots = deployed(x, _samples(x))
        for b, (ref, got) in enumerate(zip(refs, gots)):
            ref, got = ref.pred_instances, got.pred_instances
            assert_same_detections(ref, raw[0][b], raw[1][b], raw[2][b])
            if with_mask:
                assert raw[3].shape == (2, 100, 28, 28)
                assert got.masks.shape == ref.masks.shape == (len(ref), h, w)
                # Pair each reference detection with the deployed one of the nearest box.
                dist = (ref.bboxes[:, None] - got.bboxes[None]).abs().amax(-1)
                dist[ref.labels[:, None] != got.labels[None]] = float('inf')
                pair = dist.argmin(1)
                agree = (ref.masks == got.masks[pair]).flatten(1).float().mean(1)
                assert agree.min() >= 0.999, agree.min()
                assert ref.masks.any()


def test_two_stage_rois_of_an_empty_level_and_static_batch(faster_rcnn, tmp_path):
    """Proposals too small for the coarse levels leave their RoI Align empty (a 0-row
    RoiAlign in the graph); a static batch of 1 and a stricter test_cfg are honoured."""
    from mmengine.config import ConfigDict
    from mmghost.export import export_detector
    from mmghost.runtime import create_backend
    cfg = ConfigDict(faster_rcnn.test_cfg)
    cfg.rpn.update(nms_pre=50, max_per_img=30)
    cfg.rcnn.update(max_per_img=10, score_thr=0.3)
    path = str(tmp_path / 'static.onnx')
    export_detector(faster_rcnn, path, shape=(64, 64), dynamic_batch=False, test_cfg=cfg)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    boxes, scores, labels = create_backend('onnxruntime', path)(x.numpy())
    assert boxes.shape == (1, 10, 4) and (scores[scores > 0] > 0.3).all()
    saved = faster_rcnn.rpn_head.test_cfg, faster_rcnn.roi_head.test_cfg
    faster_rcnn.rpn_head.test_cfg, faster_rcnn.roi_head.test_cfg = cfg.rpn, cfg.rcnn
    try:
        ref, = mmdet_predictions(faster_rcnn, x)
    finally:
        faster_rcnn.rpn_head.test_cfg, faster_rcnn.roi_head.test_cfg = saved
    assert_same_detections(ref, boxes[0], scores[0], labels[0])


def test_detectors_the_exporter_cannot_map_are_refused(faster_rcnn, tmp_path):
    from mmghost.export import export_detector
    with pytest.raises(ValueError, match='opset >= 16'):
        export_detector(faster_rcnn, str(tmp_path / 'a.onnx'), opset=13)
    cfg = load_config('mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None
    cascade = build_from_config(cfg)
    with pytest.raises(ValueError, match='CascadeRCNN cannot be exported whole: roi_head is '
                                         'CascadeRoIHead'):
        export_detector(cascade, str(tmp_path / 'b.onnx'))
    assert not list(tmp_path.iterdir())


def test_equal_scores_may_be_ranked_either_way_but_real_differences_show():
    """The export check compares detections as sets where scores tie: two detections whose
    scores differ by float rounding come out of NMS / top-k in either order."""
    from mmghost.export.onnx_check import align_detections
    boxes = torch.tensor([[[0., 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [0, 0, 0, 0]]])
    scores = torch.tensor([[0.9, 0.28616846, 0.28616822, 0.0]])
    labels = torch.tensor([[1, 0, 2, 0]])
    ref = (boxes, scores, labels)
    swapped = [t.numpy()[:, [0, 2, 1, 3]] for t in ref]
    swapped[1][0, 1:3] = [0.28616834, 0.28616840]  # the runtime's rounding, ranked 2 before 1
    aligned = align_detections(ref, swapped)
    np.testing.assert_array_equal(aligned[0], boxes.numpy())
    np.testing.assert_allclose(aligned[1], scores.numpy(), atol=2e-7)
    np.testing.assert_array_equal(aligned[2], labels.numpy())
    # A moved box, or scores apart by more than the tolerance, are not explained away.
    moved = [t.numpy().copy() for t in ref]
    moved[0][0, 1] += 5
    assert np.abs(align_detections(ref, moved)[0] - boxes.numpy()).max() == 5
    far = swapped[:1] + [swapped[1].copy()] + swapped[2:]
    far[1][0, 1:3] = [0.30, 0.26]
    assert np.abs(align_detections(ref, far)[2] - labels.numpy()).max() > 0


LIGHT = {  # config: the head's prediction convs, scaled to spread scores
    'ssdlite_ghostv3_320.py': (),  # (all its convs are scaled to unit spread)
    'rtmdet-tiny_ghostv3_320.py': ('rtm_cls', 'rtm_reg'),
    'rtmdet-tiny_repghost-ghostpafpn_320.py': ('rtm_cls', 'rtm_reg'),
    # YOLOX: points with objectness, the best class per point, boxes not clipped
    'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py': ('multi_level_conv_cls', 'multi_level_conv_reg',
                                                  'multi_level_conv_obj'),
}


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino', 'ncnn'])
@pytest.mark.parametrize('config', sorted(LIGHT))
def test_light_detectors_export_whole(config, backend, tmp_path):
    """SSDLite (softmax scores with a background class, SSD anchors) and RTMDet (point priors,
    distance boxes), with CSPNeXtPAFPN or the re-parameterized GhostPAFPN, give mmdet's
    predictions at a small and an odd size: whole graphs in ONNX Runtime and OpenVINO, and in
    ncnn the head's raw maps decoded after the graph by the config's own head."""
    if backend != 'onnxruntime':
        pytest.importorskip(backend)
    from mmghost import switch_to_deploy
    from mmghost.export import export_detector, export_ncnn
    from mmghost.models.utils import det_samples
    from mmghost.runtime import DenseHeadDecoder, create_backend, dense_head_config
    convs = LIGHT[config]
    if '::' not in config:
        config = osp.join(REPO, 'configs', 'detection', config)
    det = _detector(config, convs, 0.5, size=128,
                    backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))
    det.bbox_head.test_cfg.nms_pre = 1000  # RTMDet's 30000 per level: a smaller graph
    if hasattr(det.bbox_head, 'rtm_reg'):  # distances of 1-3 strides: real boxes, no slivers
        with torch.no_grad():
            for conv in det.bbox_head.rtm_reg:
                conv.weight.mul_(0.2)
                conv.bias.fill_(2.0)
    if hasattr(det.bbox_head, 'multi_level_conv_reg'):
        # YOLOX's sizes are exp(reg) strides: near 1-3 strides, as a trained head's. Random
        # ones reach thousands of pixels past the image, where mmcv's batched_nms (class
        # offsets of the largest coordinate) also suppresses boxes of other classes.
        with torch.no_grad():
            for conv in det.bbox_head.multi_level_conv_reg:
                conv.weight.mul_(0.2)
                conv.bias.copy_(torch.tensor([0., 0., 0.7, 0.7]))
    # The reference is the deploy form (what is exported): the random SSD extra levels and
    # CSPNeXt blocks amplify fp32 fusion round-off to ~1e-3 of the scores.
    switch_to_deploy(det)
    if backend == 'ncnn':
        path = str(tmp_path / 'det.ncnn.param')
        export_ncnn(det, path, shape=(128, 128))
        cfg = load_config(config)
        cfg.model.bbox_head.num_classes = 3
        cfg.model.test_cfg.nms_pre = 1000
        decode = DenseHeadDecoder(**dense_head_config(cfg))
    else:
        path = str(tmp_path / 'det.onnx')
        export_detector(det, path, shape=(128, 128), dynamic_hw=True)
        # The runtimes clip boxes as the head does: RTMDet and SSD clip, YOLOX does not.
        from mmghost.runtime.backends import read_metadata
        assert read_metadata(path).get('clip_boxes', '1') == ('0' if 'yolox' in config else '1')
    run = create_backend(backend, path)
    # ncnn's YOLOX maps (logits up to ~40 on these random weights) are ~5e-5 of their range
    # off PyTorch: up to ~5e-4 of a score.
    loose = backend == 'ncnn' and 'yolox' in config
    for i, (h, w) in enumerate([(128, 128), (160, 224)]):
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(i + 1))
        if backend == 'ncnn':
            preds = [s.pred_instances for s in decode(run(x.numpy()), det_samples(x))]
            outs = [[p.bboxes.numpy() for p in preds], [p.scores.numpy() for p in preds],
                    [p.labels.numpy() for p in preds]]
        else:
            outs = run(x.numpy())
        for b, ref in enumerate(mmdet_predictions(det, x)):
            if 'yolox' in config and backend != 'ncnn':  # mmdet keeps all, a graph 100
                ref = ref[:100]
            # SSD's random extra levels (down to 1 x 1 maps) amplify the runtimes' conv
            # round-off to ~3e-4 of a score (ONNX Runtime with every optimization off too)
            assert_same_detections(ref, outs[0][b], outs[1][b], outs[2][b],
                                   score_atol=1e-3 if 'ssd' in config or loose else 1e-4)
