"""What every backend shares around an exported graph: the config's test-time pre-processing
(load, resize, pad, normalize) and turning the graph's outputs into mmdet / mmpretrain data
samples in the original image's coordinates; for graphs that end at a dense head's raw maps
(ncnn), the decoding, score threshold, top-k and NMS of the config's own head
(:class:`DenseHeadDecoder`).

Pre-processing is the config's own: its test pipeline (mmdet's / mmpretrain's transforms) and
its model's ``data_preprocessor`` (normalization, BGR->RGB, padding to the size divisor), so a
deployed model sees exactly the tensors its PyTorch model sees. :func:`detections_to_samples`
clips boxes to the resized image (before padding), divides them by its ``scale_factor`` and
pastes instance masks into the original image, as mmdet's heads do with ``rescale=True``.
"""
import copy
from typing import List, Sequence, Union

import numpy as np
import torch

from mmghost.models.utils import default_scope

__all__ = ['Preprocessor', 'test_pipeline', 'build_data_preprocessor', 'detections_to_samples',
           'paste_masks', 'logits_to_samples', 'DenseHeadDecoder', 'dense_head_config',
           'dense_map_names']

_ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations')


def test_pipeline(cfg, from_array: bool = False) -> List[dict]:
    """The config's test pipeline without annotation loading; ``from_array`` also without the
    image loading (for images given as arrays)."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    dataset = loader['dataset'] if loader else {}
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    pipeline = copy.deepcopy(dataset.get('pipeline') or cfg.get('test_pipeline'))
    if not pipeline:
        raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline)')
    out = []
    for t in pipeline:
        kind = str(t['type']).split('.')[-1]
        if kind in _ANNOTATION_LOADERS:
            continue
        if kind == 'LoadImageFromFile' and from_array:
            continue
        out.append(t)
    return out


def build_data_preprocessor(cfg) -> torch.nn.Module:
    """The model's ``data_preprocessor`` (in the config's scope), built alone."""
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        return MODELS.build(copy.deepcopy(cfg.model.data_preprocessor)).eval()


class Preprocessor:
    """Images (paths or BGR ``H x W x 3`` arrays) -> the normalized batch and data samples.

    Args:
        cfg (mmengine.Config): The model's config.
    """

    def __init__(self, cfg):
        from mmengine.dataset import Compose
        from mmengine.registry import DefaultScope
        self.cfg = cfg
        self.scope = default_scope(cfg)
        with DefaultScope.overwrite_default_scope(self.scope):
            self._files = Compose(test_pipeline(cfg))
            self._arrays = Compose(test_pipeline(cfg, from_array=True))
        self.data_preprocessor = build_data_preprocessor(cfg)

    def __call__(self, images: Sequence[Union[str, np.ndarray]]) -> dict:
        """``dict(inputs=N x 3 x H x W float tensor, data_samples=[...])``.

        Raises:
            ValueError: An image that cannot be read (the message names it).
        """
        from mmengine.dataset import pseudo_collate
        from mmengine.registry import DefaultScope
        items = []
        with DefaultScope.overwrite_default_scope(self.scope):
            for i, image in enumerate(images):
                if isinstance(image, np.ndarray):
                    if image.ndim != 3 or image.shape[2] != 3:
                        raise ValueError(f'image {i} is an array of shape {image.shape}; '
                                         f'expected H x W x 3 (BGR)')
                    h, w = image.shape[:2]
                    items.append(self._arrays(dict(img=image, img_path=None, img_id=i,
                                                   img_shape=(h, w), ori_shape=(h, w))))
                else:
                    try:
                        items.append(self._files(dict(img_path=str(image), img_id=i)))
                    except Exception as e:  # mmcv raises several types for unreadable files
                        raise ValueError(f'cannot read the image {image}: '
                                         f'{type(e).__name__}: {e}') from None
        with torch.no_grad():
            return self.data_preprocessor(pseudo_collate(items), False)


def paste_masks(probs: torch.Tensor, boxes: torch.Tensor, shape, threshold: float):
    """Each ``S x S`` mask of ``probs`` pasted into its box (original-image pixels) of an
    image of ``shape`` (H, W) and binarized at ``threshold``: mmdet's FCNMaskHead pasting
    (its ``_do_paste_mask``, one mask at a time as it does on a CPU). Returns ``M x H x W``
    bool masks (uint8 in 0..255 for a negative threshold, as mmdet)."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    h, w = int(shape[0]), int(shape[1])
    binary = threshold >= 0
    masks = torch.zeros(len(probs), h, w, dtype=torch.bool if binary else torch.uint8)
    for i in range(len(probs)):
        chunk, where = _do_paste_mask(probs[i:i + 1, None], boxes[i:i + 1], h, w,
                                      skip_empty=True)
        chunk = chunk >= threshold if binary else (chunk * 255).to(torch.uint8)
        masks[(slice(i, i + 1), ) + where] = chunk
    return masks


def detections_to_samples(boxes, scores, labels, data_samples: list, masks=None,
                          mask_thr: float = 0.5, clip: bool = True) -> list:
    """Put one image's ``boxes (M x 4), scores (M), labels (M)`` (and ``masks (M x S x S)``
    probabilities) into each data sample's ``pred_instances``: empty slots (score <= 0)
    dropped, boxes clipped to the resized image (unless ``clip=False``: YOLOX's head does not
    clip) and mapped back to the original one by its ``scale_factor``, masks pasted into the
    original image (:func:`paste_masks`)."""
    from mmengine.structures import InstanceData
    out = []
    for i, (b, s, lab, sample) in enumerate(zip(boxes, scores, labels, data_samples)):
        b, s, lab = (torch.as_tensor(np.asarray(v)) for v in (b, s, lab))
        keep = s > 0
        b, s, lab = b[keep].float(), s[keep].float(), lab[keep].long()
        if clip:
            h, w = sample.metainfo['img_shape'][:2]
            b[:, 0::2] = b[:, 0::2].clamp(0, w)
            b[:, 1::2] = b[:, 1::2].clamp(0, h)
        scale = sample.metainfo.get('scale_factor')
        if scale is not None:
            b = b / b.new_tensor(scale).repeat(2)
        instances = InstanceData(bboxes=b, scores=s, labels=lab)
        if masks is not None:
            probs = torch.as_tensor(np.asarray(masks[i]))[keep].float()
            shape = sample.metainfo.get('ori_shape', sample.metainfo['img_shape'])[:2]
            instances.masks = paste_masks(probs, b, shape, mask_thr)
        sample.pred_instances = instances
        out.append(sample)
    return out


def logits_to_samples(logits, data_samples: list) -> list:
    """Put each image's class scores (softmax of the logits) into its data sample."""
    logits = torch.as_tensor(np.asarray(logits)).float()
    scores = logits.softmax(dim=1)
    for sample, score in zip(data_samples, scores):
        sample.set_pred_score(score).set_pred_label(score.argmax().view(1))
    return data_samples


def dense_head_config(cfg) -> dict:
    """``dict(head_cfg=..., scope=...)`` of :class:`DenseHeadDecoder` for a detector config:
    its ``bbox_head`` with the model's ``test_cfg`` (as mmdet's single-stage detectors build
    it) and the config's scope. Plain dicts, so a Runner config can carry them."""
    from mmengine.config import ConfigDict
    head = cfg.model.get('bbox_head')
    if head is None:
        raise ValueError('the config\'s model has no bbox_head: only single-stage detectors '
                         'decode their raw head maps after the graph')
    head = copy.deepcopy(head)
    head.update(train_cfg=None, test_cfg=copy.deepcopy(cfg.model.get('test_cfg')))
    as_dict = head.to_dict() if isinstance(head, ConfigDict) else dict(head)
    return dict(head_cfg=as_dict, scope=default_scope(cfg))


def dense_map_names(head: torch.nn.Module) -> tuple:
    """The groups of per-level maps a dense head's ``forward`` returns, in order."""
    from mmdet.models.dense_heads import YOLOXHead
    if isinstance(head, YOLOXHead):
        return ('cls_score', 'bbox_pred', 'objectness')
    return ('cls_score', 'bbox_pred')


class DenseHeadDecoder:
    """A single-stage detector's raw head maps -> detections, by the config's own head.

    The graph ends at the head's per-level ``cls_score`` and ``bbox_pred`` maps (an ncnn
    export, :func:`mmghost.export.export_ncnn`); this builds the config's ``bbox_head`` (its
    prior generator, box coder and ``test_cfg``; its weights are not used) and runs mmdet's
    ``predict_by_feat`` on the maps with ``rescale=True``: the same anchors or points, decoding,
    clipping, score threshold, ``nms_pre``, NMS and ``max_per_img`` as the PyTorch model's
    ``predict``, in the original image's pixels.

    Args:
        head_cfg (dict): The ``bbox_head`` config with ``test_cfg`` (:func:`dense_head_config`).
        scope (str): The registry scope of the head's type. Defaults to ``'mmdet'``.
    """

    def __init__(self, head_cfg: dict, scope: str = 'mmdet'):
        from mmengine.config import ConfigDict
        from mmengine.registry import MODELS, DefaultScope
        with DefaultScope.overwrite_default_scope(scope):  # heads read test_cfg.attr
            self.head = MODELS.build(ConfigDict(copy.deepcopy(head_cfg))).eval()
        self.num_levels = self.head.prior_generator.num_levels
        self.groups = dense_map_names(self.head)

    @torch.no_grad()
    def __call__(self, outputs: Sequence, data_samples: list) -> list:
        """``outputs``: ``cls_score_0..L-1`` then ``bbox_pred_0..L-1`` (then YOLOX's
        ``objectness_0..L-1``), each ``N x C x H_i x W_i``.

        Raises:
            ValueError: Not that many maps (the graph is of another head).
        """
        if len(outputs) != len(self.groups) * self.num_levels:
            raise ValueError(f'the graph gives {len(outputs)} maps, the config\'s '
                             f'{type(self.head).__name__} decodes {self.num_levels} levels of '
                             f'({", ".join(self.groups)}); the model file is of another '
                             f'config')
        maps = [torch.as_tensor(np.asarray(o)).float() for o in outputs]
        L = self.num_levels
        groups = [maps[i * L:(i + 1) * L] for i in range(len(self.groups))]
        metas = [sample.metainfo for sample in data_samples]
        results = self.head.predict_by_feat(*groups, batch_img_metas=metas, rescale=True)
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result
        return data_samples
