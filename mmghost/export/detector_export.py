"""Whole-detector ONNX export: a normalized image batch in, final ``boxes, scores, labels`` out.

    from mmghost.export import export_detector
    info = export_detector(detector, 'retinanet.onnx', shape=(128, 128), dynamic_hw=True)

The graph holds backbone, neck and head, the prior (anchor / grid) generation of the head's
own ``prior_generator`` (computed from the feature maps' sizes, so H x W may be dynamic), the
box decoding of its own ``bbox_coder``, the score threshold, the top-k pre-selection and the
class-wise NMS (ONNX ``NonMaxSuppression``) of the config's ``test_cfg``, as mmdet's
``predict`` does them:

* single-stage anchor or point heads, RetinaNet and RTMDet (sigmoid scores) or SSD and
  SSDLite (softmax scores, the last class the background): per level, the ``nms_pre`` best
  (prior, class) pairs above ``score_thr``; boxes decoded and clipped to the input size;
* YOLOv3: anchors with objectness >= ``conf_thr``, the ``nms_pre`` best (anchor, class) pairs
  above ``score_thr`` over all levels, scored ``class score x objectness``;
* YOLOX: every point with its best class, scored ``class x objectness``, kept >= ``score_thr``;
  boxes not clipped (mmdet's ``YOLOXHead`` has no ``nms_pre``, clipping or size filter);
* then boxes narrower or lower than ``min_bbox_size`` dropped, class-wise NMS at
  ``nms.iou_threshold``, and the ``max_per_img`` best detections kept;
* two-stage detectors (Faster / Mask R-CNN: ``RPNHead`` + ``StandardRoIHead``): the RPN's
  proposals as mmdet makes them (per level the ``rpn.nms_pre`` best anchors, NMS within each
  level, the ``rpn.max_per_img`` best), each pooled by RoI Align (ONNX ``RoiAlign``) from
  the FPN level its scale maps to, the box head's softmax scores and class-wise boxes, then
  ``rcnn.score_thr``, class-wise NMS and ``rcnn.max_per_img`` as mmdet's ``multiclass_nms``;
  with a mask head, its ``S x S`` probabilities of each detection's class.

Outputs: ``boxes`` float32 ``N x max_per_img x 4`` (x1, y1, x2, y2 in input pixels), ``scores``
``N x max_per_img`` (0: empty slot), ``labels`` int64 (-1: empty slot), best first; a mask head
adds ``masks`` ``N x max_per_img x S x S``. Rescaling to the original image (clipping, pasting
the masks) is :mod:`mmghost.runtime.preprocess`'s job, shared by every backend.

Where mmdet differs: YOLOX keeps every detection NMS leaves, the graph the ``max_per_img``
(default 100, COCO's ``maxDets``) best; mmdet applies NMS to boxes rescaled to the original
image, here in input pixels (the same IoU for a uniform resize; a keep-ratio resize scales x
and y by factors that differ by rounding only); it clips boxes to the unpadded image size,
here to the padded input (the same unless a box reaches into the padding). The backbone is
exported in its channel-aligned form for ONNX Runtime unless ``align_channels=0``.
"""
import json
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmghost.models.layers.reparam import pending_reparam_modules, switch_to_deploy
from mmghost.reparameterize.aligned_form import ORT_BLOCK
from .detector_ops import (ROI_ALIGN_MIN_OPSET, batched_nms, clip_boxes, drop_small,
                           gather_rows, nms_keep, pad_rows, roi_align, select_top, topk_padded)
from .onnx_export import export_graph, preprocessor_metadata

__all__ = ['DetectorExportModule', 'export_detector', 'OUTPUT_NAMES', 'supported_head',
           'output_names']

OUTPUT_NAMES = ('boxes', 'scores', 'labels')


def supported_head(detector: nn.Module) -> str:
    """``'anchor'`` (single-stage anchor or point heads: RetinaNet, RTMDet, SSD), ``'yolo'``
    (YOLOv3), ``'yolox'`` (YOLOX) or ``'two_stage'`` (RPN + standard RoI head: Faster / Mask
    R-CNN); raises a ValueError
    naming the detector otherwise."""
    from mmdet.models.dense_heads import AnchorHead, RPNHead, YOLOV3Head, YOLOXHead
    from mmdet.models.roi_heads import StandardRoIHead
    if hasattr(detector, 'roi_head'):
        _check_two_stage(detector, RPNHead, StandardRoIHead)
        return 'two_stage'
    head = getattr(detector, 'bbox_head', None)
    if isinstance(head, YOLOV3Head):
        return 'yolo'
    if isinstance(head, YOLOXHead):
        return 'yolox'
    if isinstance(head, AnchorHead) and (getattr(head, 'use_sigmoid_cls', False)
                                         or _softmax_with_background(head)):
        return 'anchor'
    what = type(head).__name__ if head is not None else 'no bbox_head'
    raise ValueError(
        f'{type(detector).__name__} ({what}) is not a detector this exporter knows: '
        f'single-stage anchor or point heads with sigmoid scores (RetinaNet, RTMDet) or '
        f'softmax scores with a background class (SSD, SSDLite), YOLOv3, YOLOX, and two-stage '
        f'detectors '
        f'with an RPNHead and a StandardRoIHead (Faster / Mask R-CNN). Export its backbone '
        f'with --backbone-only instead')


def _softmax_with_background(head) -> bool:
    """A softmax head whose last class is the background (mmdet's SSDHead)."""
    return not getattr(head, 'use_sigmoid_cls', True) and \
        getattr(head, 'cls_out_channels', None) == head.num_classes + 1


def _check_two_stage(detector, rpn_type, roi_type) -> None:
    from mmdet.models.roi_heads.bbox_heads import BBoxHead
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    name = type(detector).__name__
    roi, rpn = detector.roi_head, getattr(detector, 'rpn_head', None)
    problems = []
    if not isinstance(rpn, rpn_type) or not rpn.use_sigmoid_cls:
        problems.append(f'rpn_head is {type(rpn).__name__} (an RPNHead with sigmoid '
                        f'objectness is exported)')
    if type(roi) is not roi_type:  # Cascade, HTC, ...: several stages or extra branches
        problems.append(f'roi_head is {type(roi).__name__} (StandardRoIHead is exported)')
    else:
        if not isinstance(roi.bbox_head, BBoxHead) or roi.bbox_head.custom_cls_channels or \
                not isinstance(roi.bbox_head.bbox_coder, DeltaXYWHBBoxCoder):
            problems.append(f'roi_head.bbox_head is {type(roi.bbox_head).__name__} with '
                            f'{type(roi.bbox_head.bbox_coder).__name__} (BBoxHead subclasses '
                            f'with softmax scores and DeltaXYWHBBoxCoder are exported)')
        extractors = [roi.bbox_roi_extractor] + ([roi.mask_roi_extractor]
                                                 if roi.with_mask else [])
        for e in extractors:
            if not isinstance(e, SingleRoIExtractor) or \
                    type(e.roi_layers[0]).__name__ != 'RoIAlign':
                problems.append(f'an RoI extractor is {type(e).__name__} with '
                                f'{type(e.roi_layers[0]).__name__} (SingleRoIExtractor with '
                                f'RoIAlign is exported)')
        if roi.with_mask and (type(roi.mask_head) is not FCNMaskHead or roi.share_roi_extractor):
            problems.append(f'roi_head.mask_head is {type(roi.mask_head).__name__} '
                            f'(FCNMaskHead with its own RoI extractor is exported)')
    if problems:
        raise ValueError(f'{name} cannot be exported whole: ' + '; '.join(problems))


def output_names(detector: nn.Module) -> Tuple[str, ...]:
    """The exported graph's outputs: ``boxes, scores, labels`` (+ ``masks`` with a mask
    head)."""
    roi = getattr(detector, 'roi_head', None)
    return OUTPUT_NAMES + (('masks', ) if roi is not None and roi.with_mask else ())


def _nms_cfg(cfg: dict, where: str) -> float:
    nms = cfg.get('nms') or {}
    if str(nms.get('type', 'nms')).lower() != 'nms':
        raise ValueError(f'{where}.nms.type={nms.get("type")!r}: only plain NMS maps to '
                         f'ONNX NonMaxSuppression')
    return float(nms.get('iou_threshold', 0.5))


class DetectorExportModule(nn.Module):
    """An mmdet detector as ``normalized batch -> (boxes, scores, labels[, masks])``.

    Args:
        detector (nn.Module): An mmdet RetinaNet-style, YOLOv3 or two-stage (RPN + standard
            RoI head) detector, deploy form.
        test_cfg (dict, optional): Post-processing; defaults to the head's ``test_cfg`` (a
            two-stage detector: ``dict(rpn=..., rcnn=...)``, its RPN's and RoI head's).
    """

    def __init__(self, detector: nn.Module, test_cfg: Optional[dict] = None):
        super().__init__()
        self.kind = supported_head(detector)
        self.detector = detector
        if self.kind == 'two_stage':
            roi = detector.roi_head
            cfg = dict(rpn=detector.rpn_head.test_cfg, rcnn=roi.test_cfg) \
                if test_cfg is None else dict(test_cfg)
            self.rpn_cfg, rcnn = dict(cfg['rpn']), dict(cfg['rcnn'])
            self.rpn_iou = _nms_cfg(self.rpn_cfg, 'test_cfg.rpn')
            self.rpn_pre = int(self.rpn_cfg.get('nms_pre', 1000))
            self.num_proposals = int(self.rpn_cfg.get('max_per_img', 1000))
            if self.rpn_pre <= 0 or self.num_proposals <= 0:
                raise ValueError('test_cfg.rpn.nms_pre and max_per_img must be positive for '
                                 'export (fixed sizes)')
            self.num_classes = roi.bbox_head.num_classes
            self.with_mask = roi.with_mask
            self.mask_thr = float(rcnn.get('mask_thr_binary', 0.5))
            head_cfg = rcnn
        else:
            head = detector.bbox_head
            head_cfg = cfg = dict(head.test_cfg if test_cfg is None else test_cfg)
            self.num_classes = head.num_classes
            self.with_mask = False
        self.score_thr = float(head_cfg.get('score_thr', 0.0))
        self.conf_thr = float(head_cfg.get('conf_thr', -1))
        self.nms_pre = int(head_cfg.get('nms_pre', 1000))
        if self.nms_pre <= 0:
            raise ValueError('test_cfg.nms_pre must be positive for export (a fixed top-k)')
        self.min_bbox_size = float(head_cfg.get('min_bbox_size', -1))
        self.iou_threshold = _nms_cfg(head_cfg, 'test_cfg.rcnn' if self.kind == 'two_stage'
                                      else 'test_cfg')
        self.max_per_img = int(head_cfg.get('max_per_img', 100))
        self.test_cfg = cfg

    # ------------------------------------------------------------------ single-stage heads

    def _anchor_candidates(self, cls_scores, bbox_preds, x):
        head = self.detector.bbox_head
        n, k, c = x.shape[0], self.nms_pre, self.num_classes
        priors = head.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores],
                                                  dtype=x.dtype, device=x.device)
        boxes, scores, labels = [], [], []
        softmax = not head.use_sigmoid_cls
        for cls, reg, pri in zip(cls_scores, bbox_preds, priors):
            if softmax:  # SSD: the background is the last of num_classes + 1 scores
                cls = cls.permute(0, 2, 3, 1).reshape(n, -1, c + 1).softmax(-1)[..., :c]
            else:
                cls = cls.permute(0, 2, 3, 1).reshape(n, -1, c).sigmoid()
            reg = pad_rows(reg.permute(0, 2, 3, 1).reshape(n, -1, 4), k)
            pri = pad_rows(getattr(pri, 'tensor', pri), k)
            top, idx = topk_padded(cls.reshape(n, -1), k)
            anchor = idx // c
            reg = gather_rows(reg, anchor)
            boxes.append(clip_boxes(head.bbox_coder.decode(pri[anchor], reg), x))
            scores.append(torch.where(top > self.score_thr, top, torch.zeros_like(top)))
            labels.append(idx % c)
        return torch.cat(boxes, 1), torch.cat(scores, 1), torch.cat(labels, 1)

    def _yolo_candidates(self, pred_maps, x):
        head = self.detector.bbox_head
        n, k, c = x.shape[0], self.nms_pre, self.num_classes
        anchors = head.prior_generator.grid_priors([p.shape[-2:] for p in pred_maps],
                                                   device=x.device)
        preds, strides = [], []
        for pred, stride, anc in zip(pred_maps, head.featmap_strides, anchors):
            pred = pred.permute(0, 2, 3, 1).reshape(n, -1, head.num_attrib)
            preds.append(pred)
            strides.append(torch.full_like(anc[:, :1], float(stride)))
        pred = torch.cat(preds, 1)
        anchors = torch.cat([getattr(a, 'tensor', a) for a in anchors])
        bbox = torch.cat([pred[..., :2].sigmoid(), pred[..., 2:4]], -1)
        boxes = head.bbox_coder.decode(anchors, bbox, torch.cat(strides))
        boxes = getattr(boxes, 'tensor', boxes)
        objectness = pred[..., 4].sigmoid()
        cls = pred[..., 5:].sigmoid()
        if self.conf_thr > 0:
            cls = torch.where((objectness >= self.conf_thr).unsqueeze(-1), cls,
                              torch.full_like(cls, -1.0))
        top, idx = topk_padded(cls.reshape(n, -1), k)
        anchor = idx // c
        boxes = gather_rows(pad_rows(boxes, k), anchor)
        obj = torch.gather(torch.cat([objectness, objectness.new_zeros(n, k)], 1), 1, anchor)
        scores = torch.where(top > self.score_thr, top * obj, torch.zeros_like(top))
        return boxes, scores, idx % c

    def _yolox_candidates(self, cls_scores, bbox_preds, objectnesses, x):
        """mmdet's ``YOLOXHead.predict_by_feat`` up to its NMS: all points, best class."""
        head = self.detector.bbox_head
        n = x.shape[0]
        priors = torch.cat(head.prior_generator.grid_priors(
            [s.shape[-2:] for s in cls_scores], dtype=x.dtype, device=x.device,
            with_stride=True))

        cls, reg, obj = (torch.cat([m.permute(0, 2, 3, 1).reshape(n, -1, m.shape[1])
                                    for m in maps], 1)
                         for maps in (cls_scores, bbox_preds, objectnesses))
        xy = reg[..., :2] * priors[:, 2:] + priors[:, :2]
        half = reg[..., 2:].exp() * priors[:, 2:] / 2
        best, labels = cls.sigmoid().max(-1)
        scores = best * obj[..., 0].sigmoid()
        scores = torch.where(scores >= self.score_thr, scores, torch.zeros_like(scores))
        return torch.cat([xy - half, xy + half], -1), scores, labels

    def _nms(self, boxes, scores, labels):
        """Class-wise NMS of candidates whose boxes the classes share."""
        n, num, c, m = boxes.shape[0], boxes.shape[1], self.num_classes, self.max_per_img
        scores = drop_small(boxes, scores, self.min_bbox_size)
        per_class = scores.new_zeros((n, c, num)).scatter(1, labels.unsqueeze(1),
                                                          scores.unsqueeze(1))
        kept = (per_class * nms_keep(boxes, per_class, m, self.iou_threshold)).reshape(n, -1)
        top, idx = select_top(kept, m)
        valid = top > 0
        out_boxes = gather_rows(boxes, idx % num)
        out_boxes = torch.where(valid.unsqueeze(-1), out_boxes, torch.zeros_like(out_boxes))
        out_labels = torch.where(valid, idx // num, torch.full_like(idx, -1))
        return out_boxes, top, out_labels

    # ------------------------------------------------------------------ two-stage detectors

    def _proposals(self, feats, x):
        """The RPN's proposals as mmdet's RPNHead makes them: per level the ``nms_pre`` best
        anchors, decoded and clipped, small boxes dropped, NMS within each level, the
        ``max_per_img`` best kept: ``N x P x 4`` boxes and their ``N x P`` validity."""
        rpn = self.detector.rpn_head
        cls_scores, bbox_preds = rpn(feats)
        n, k = x.shape[0], self.rpn_pre
        priors = rpn.prior_generator.grid_priors([s.shape[-2:] for s in cls_scores],
                                                 dtype=x.dtype, device=x.device)
        boxes, scores, levels = [], [], []
        for level, (cls, reg, pri) in enumerate(zip(cls_scores, bbox_preds, priors)):
            top, idx = topk_padded(cls.permute(0, 2, 3, 1).reshape(n, -1).sigmoid(), k)
            reg = gather_rows(pad_rows(reg.permute(0, 2, 3, 1).reshape(n, -1, 4), k), idx)
            pri = pad_rows(getattr(pri, 'tensor', pri), k)[idx]
            boxes.append(clip_boxes(rpn.bbox_coder.decode(pri, reg), x))
            scores.append(top.clamp(min=0))  # the padding (-1) becomes an empty slot
            levels.append(torch.full_like(idx, level))
        boxes, scores = torch.cat(boxes, 1), torch.cat(scores, 1)
        scores = drop_small(boxes, scores, float(self.rpn_cfg.get('min_bbox_size', -1)))
        top, idx = batched_nms(boxes, scores, torch.cat(levels, 1), self.rpn_iou,
                               self.num_proposals)
        return gather_rows(boxes, idx), top > 0

    @staticmethod
    def _roi_features(extractor, feats, rois, batch_idx):
        """mmdet's SingleRoIExtractor: each RoI pooled (RoI Align) from the level its scale
        maps to."""
        feats = feats[:extractor.num_inputs]
        layers = extractor.roi_layers
        if len(feats) == 1:
            return roi_align(layers[0], feats[0], rois, batch_idx)
        scale = torch.sqrt((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]))
        level = torch.floor(torch.log2(scale / extractor.finest_scale + 1e-6))
        level = level.clamp(min=0, max=len(feats) - 1).long()
        size = layers[0].output_size
        size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        out = rois.new_zeros((rois.shape[0], extractor.out_channels) + size)
        for i, feat in enumerate(feats):
            idx = torch.nonzero(level == i).flatten()
            out = out.index_put((idx, ), roi_align(layers[i], feat, rois[idx], batch_idx[idx]))
        return out

    def _two_stage(self, x):
        roi = self.detector.roi_head
        feats = self.detector.extract_feat(x)
        proposals, valid = self._proposals(feats, x)
        n, p, c = x.shape[0], proposals.shape[1], self.num_classes
        rois = proposals.reshape(-1, 4)
        batch_idx = torch.arange(n, device=x.device).unsqueeze(1).expand(-1, p).reshape(-1)
        cls_score, bbox_pred = roi.bbox_head(
            self._roi_features(roi.bbox_roi_extractor, feats, rois, batch_idx))
        scores = cls_score.softmax(-1)[:, :c].reshape(n, p, c)
        scores = torch.where(valid.unsqueeze(-1) & (scores > self.score_thr), scores,
                             torch.zeros_like(scores))
        reg_classes = 1 if roi.bbox_head.reg_class_agnostic else c
        deltas = bbox_pred.reshape(-1, 4)
        boxes = roi.bbox_head.bbox_coder.decode(
            rois.unsqueeze(1).expand(-1, reg_classes, 4).reshape(-1, 4), deltas)
        boxes = clip_boxes(boxes, x).reshape(n, p, reg_classes, 4).expand(-1, -1, c, 4)
        boxes = boxes.reshape(n, p * c, 4)
        labels = torch.arange(c, device=x.device).repeat(p).unsqueeze(0).expand(n, -1)
        top, idx = batched_nms(boxes, scores.reshape(n, p * c), labels, self.iou_threshold,
                               self.max_per_img)
        valid = top > 0
        det_boxes = torch.where(valid.unsqueeze(-1), gather_rows(boxes, idx),
                                torch.zeros((), dtype=boxes.dtype))
        det_labels = torch.where(valid, idx % c, torch.full_like(idx, -1))
        outs = (det_boxes, top, det_labels)
        if self.with_mask:
            outs += (self._masks(feats, det_boxes, det_labels), )
        return outs

    def _masks(self, feats, boxes, labels):
        """Each detection's mask probabilities (``N x M x S x S``, the mask head's output
        size), of its own class: mmdet's FCNMaskHead on the RoI-aligned features of the
        detected boxes. Pasting them into the image is post-processing
        (:func:`mmghost.runtime.preprocess.paste_masks`)."""
        roi = self.detector.roi_head
        n, m = boxes.shape[:2]
        batch_idx = torch.arange(n, device=boxes.device).unsqueeze(1).expand(-1, m).reshape(-1)
        mask_feats = self._roi_features(roi.mask_roi_extractor, feats, boxes.reshape(-1, 4),
                                        batch_idx)
        logits = roi.mask_head(mask_feats)
        size = logits.shape[-2:]
        if roi.mask_head.class_agnostic:
            logits = logits[:, 0]
        else:
            channel = labels.clamp(min=0).reshape(-1, 1, 1, 1).expand(-1, 1, *size)
            logits = torch.gather(logits, 1, channel)[:, 0]
        return logits.sigmoid().reshape(n, m, *size)

    def forward(self, x: torch.Tensor):
        if self.kind == 'two_stage':
            return self._two_stage(x)
        outs = self.detector.bbox_head(self.detector.extract_feat(x))
        if self.kind == 'yolo':
            candidates = self._yolo_candidates(outs[0], x)
        elif self.kind == 'yolox':
            candidates = self._yolox_candidates(*outs, x)
        else:
            candidates = self._anchor_candidates(outs[0], outs[1], x)
        return self._nms(*candidates)


def export_detector(detector: nn.Module,
                    path: str,
                    shape: Union[int, Sequence[int]] = (640, 640),
                    dynamic_batch: bool = True,
                    dynamic_hw: bool = False,
                    opset: int = 17,
                    batch_size: int = 1,
                    test_cfg: Optional[dict] = None,
                    metadata: Optional[Dict[str, str]] = None,
                    align_channels: int = ORT_BLOCK) -> Dict[str, object]:
    """Export a detector (deploy form; a copy is fused when needed) to ONNX, whole.

    Args:
        detector (nn.Module): An mmdet RetinaNet-style, YOLOv3 or two-stage (Faster / Mask
            R-CNN) detector.
        path (str): Output ``.onnx`` file (written atomically).
        shape (int | tuple[int, int]): H, W traced (and the static size without
            ``dynamic_hw``). Defaults to 640.
        dynamic_batch (bool): Free batch dimension. Defaults to True.
        dynamic_hw (bool): Free H and W (at least the backbone's total stride, 32).
        opset (int): ONNX opset, 11 to 20 (two-stage detectors: 16 to 20, for RoiAlign's
            ``half_pixel`` mode). Defaults to 17.
        batch_size (int): Batch size traced. Defaults to 1.
        test_cfg (dict, optional): Post-processing; defaults to the detector's.
        metadata (dict, optional): Extra ``metadata_props``.
        align_channels (int): As :func:`mmghost.export.export_onnx` (0: plain). Defaults to 16.

    Returns:
        dict: As :func:`mmghost.export.export_onnx` (``task='detector'``).
    """
    import copy

    wrapper = DetectorExportModule(copy.deepcopy(detector).eval(), test_cfg)
    if wrapper.kind == 'two_stage' and opset < ROI_ALIGN_MIN_OPSET:
        raise ValueError(f'a two-stage detector needs opset >= {ROI_ALIGN_MIN_OPSET} '
                         f'(RoiAlign with half_pixel coordinates, mmcv\'s aligned=True), got '
                         f'{opset}')
    if pending_reparam_modules(wrapper):
        switch_to_deploy(wrapper)
    names = output_names(detector)
    doc = ('boxes N x M x 4 (x1, y1, x2, y2, input pixels), scores N x M (0: empty slot), '
           'labels N x M (-1: empty slot), best first')
    if wrapper.with_mask:
        doc += ', masks N x M x S x S (mask probabilities of each box, its class)'
    meta = dict(task='detector', detector=type(detector).__name__, head=wrapper.kind,
                num_classes=str(wrapper.num_classes), test_cfg=json.dumps(wrapper.test_cfg),
                outputs_doc=doc)
    if wrapper.with_mask:
        meta['mask_thr_binary'] = str(wrapper.mask_thr)
    if wrapper.kind == 'yolox':
        meta['clip_boxes'] = '0'  # YOLOXHead leaves boxes that cross the image border as they are
    meta.update(preprocessor_metadata(detector))
    meta.update(metadata or {})
    return export_graph(wrapper, path, shape, names, dynamic_batch, dynamic_hw, opset,
                        batch_size, meta, backbone=getattr(detector, 'backbone', None),
                        align_channels=align_channels)
