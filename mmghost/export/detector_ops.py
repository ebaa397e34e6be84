"""The detection ops of the exported graphs, each both an eager PyTorch op and a standard ONNX
op that ONNX Runtime and OpenVINO run: NMS (``NonMaxSuppression``), RoI Align (``RoiAlign``,
opset 16's ``half_pixel`` mode), fixed-size top-k selection and box clipping.

Eager, the ops run what mmdet runs (torchvision's NMS, mmcv's RoI Align), so a traced module
gives mmdet's predictions before it is exported.
"""
from typing import Tuple

import torch

__all__ = ['nms_keep', 'roi_align', 'topk_padded', 'pad_rows', 'clip_boxes', 'select_top',
           'drop_small', 'batched_nms', 'gather_rows', 'ROI_ALIGN_MIN_OPSET']

#: ``RoiAlign``'s ``coordinate_transformation_mode='half_pixel'`` (mmcv's ``aligned=True``).
ROI_ALIGN_MIN_OPSET = 16


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` (per image and class); eager: torchvision's NMS."""

    @staticmethod
    def forward(ctx, boxes, scores, max_output: int, iou_threshold: float,
                score_threshold: float):
        from torchvision.ops import nms
        selected = []
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                s = scores[b, c]
                idx = torch.nonzero(s > score_threshold).flatten()
                if idx.numel():
                    keep = idx[nms(boxes[b, idx], s[idx], iou_threshold)][:max_output]
                    selected.append(torch.stack([torch.full_like(keep, b),
                                                 torch.full_like(keep, c), keep], 1))
        if not selected:
            return boxes.new_zeros((0, 3), dtype=torch.long)
        return torch.cat(selected)

    @staticmethod
    def symbolic(g, boxes, scores, max_output, iou_threshold, score_threshold):
        return g.op('NonMaxSuppression', boxes, scores,
                    g.op('Constant', value_t=torch.tensor([max_output], dtype=torch.long)),
                    g.op('Constant', value_t=torch.tensor([iou_threshold], dtype=torch.float)),
                    g.op('Constant', value_t=torch.tensor([score_threshold],
                                                          dtype=torch.float)),
                    center_point_box_i=0)


def nms_keep(boxes: torch.Tensor, scores: torch.Tensor, max_output: int,
             iou_threshold: float) -> torch.Tensor:
    """``N x C x M`` mask (1.0: kept) of class-wise NMS over ``N x M x 4`` boxes shared by the
    classes and ``N x C x M`` scores; a score of 0 is never kept, at most ``max_output`` boxes
    are kept per image and class."""
    selected = _NonMaxSuppression.apply(boxes, scores, max_output, iou_threshold, 0.0)
    keep = torch.zeros_like(scores)
    keep[selected[:, 0], selected[:, 1], selected[:, 2]] = 1.0
    return keep


class _RoiAlign(torch.autograd.Function):
    """ONNX ``RoiAlign`` (opset 16, ``half_pixel`` when aligned); eager: mmcv's RoI Align."""

    @staticmethod
    def forward(ctx, feat, rois, batch_idx, output_size: Tuple[int, int], spatial_scale: float,
                sampling_ratio: int, pool_mode: str, aligned: bool):
        from mmcv.ops import roi_align as mmcv_roi_align
        boxes = torch.cat([batch_idx.to(rois.dtype).unsqueeze(1), rois], 1)
        return mmcv_roi_align(feat, boxes, output_size, spatial_scale, sampling_ratio,
                              pool_mode, aligned)

    @staticmethod
    def symbolic(g, feat, rois, batch_idx, output_size, spatial_scale, sampling_ratio,
                 pool_mode, aligned):
        return g.op('RoiAlign', feat, rois, batch_idx,
                    coordinate_transformation_mode_s='half_pixel' if aligned
                    else 'output_half_pixel',
                    mode_s=pool_mode, output_height_i=int(output_size[0]),
                    output_width_i=int(output_size[1]), sampling_ratio_i=max(0, sampling_ratio),
                    spatial_scale_f=float(spatial_scale))


def roi_align(layer, feat: torch.Tensor, rois: torch.Tensor,
              batch_idx: torch.Tensor) -> torch.Tensor:
    """mmcv ``RoIAlign`` ``layer`` applied to ``K x 4`` ``rois`` of the images ``batch_idx``
    (``K`` int64), as one op of the graph."""
    size = tuple(int(s) for s in (layer.output_size if isinstance(layer.output_size, tuple)
                                  else (layer.output_size, layer.output_size)))
    return _RoiAlign.apply(feat, rois, batch_idx, size, float(layer.spatial_scale),
                           int(layer.sampling_ratio), str(layer.pool_mode),
                           bool(layer.aligned))


def topk_padded(scores: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` of ``N x M`` scores, padded with -1 so that ``M < k`` works with a constant k
    (the padding indices point past ``M``; their score -1 marks them invalid)."""
    pad = scores.new_full((scores.shape[0], k), -1.0)
    return torch.cat([scores, pad], 1).topk(k, dim=1)


def pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    """``t`` with ``rows`` zero rows appended along its second-to-last dimension."""
    return torch.cat([t, t.new_zeros(t.shape[:-2] + (rows, t.shape[-1]))], -2)


def clip_boxes(boxes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Clip ``x1, y1, x2, y2`` boxes to the input's size, read from the traced shape (so a
    dynamic H x W graph clips to each input's own size)."""
    boxes = getattr(boxes, 'tensor', boxes)
    size = torch._shape_as_tensor(x)[2:].to(boxes.dtype)  # (H, W)
    upper = torch.stack([size[1], size[0], size[1], size[0]])
    return torch.minimum(boxes.clamp(min=0), upper)


def select_top(scores: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best of ``N x M`` non-negative scores (``M`` may be below ``k``): their scores
    and indices, a score of 0 marking an empty slot (its index is 0)."""
    top, idx = torch.cat([scores, scores.new_zeros(scores.shape[0], k)], 1).topk(k, dim=1)
    return top, torch.where(top > 0, idx, torch.zeros_like(idx))


def drop_small(boxes: torch.Tensor, scores: torch.Tensor, min_size: float) -> torch.Tensor:
    """Scores of boxes narrower or lower than ``min_size`` set to 0 (``min_size < 0``: none)."""
    if min_size < 0:
        return scores
    wide = (boxes[..., 2] - boxes[..., 0] > min_size) & (boxes[..., 3] - boxes[..., 1] > min_size)
    return torch.where(wide, scores, torch.zeros_like(scores))


def batched_nms(boxes, scores, idxs, iou_threshold: float, max_output: int):
    """mmcv's ``batched_nms`` for ``N x M`` candidates: NMS within each ``idxs`` group (the
    boxes of each group offset by ``idxs x (largest coordinate + 1)``, as mmcv does), the
    ``max_output`` best kept: ``(scores, indices)`` ``N x max_output`` (score 0: empty)."""
    offset = boxes.amax(dim=(1, 2), keepdim=True) + 1
    shifted = boxes + idxs.unsqueeze(-1).to(boxes.dtype) * offset
    kept = scores * nms_keep(shifted, scores.unsqueeze(1), max_output, iou_threshold)[:, 0]
    return select_top(kept, max_output)


def gather_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[b, idx[b]]`` for an ``N x M x D`` tensor and ``N x K`` indices."""
    return torch.gather(t, 1, idx.unsqueeze(-1).expand(-1, -1, t.shape[-1]))
