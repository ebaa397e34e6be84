"""A deployed model behind one API, returning mmdet / mmpretrain data samples.

``Deployment(config, model, backend)`` runs images (paths or BGR arrays) through the config's
pre-processing and an exported graph (ONNX Runtime, OpenVINO or ncnn) or, with
``backend='pytorch'``, the checkpoint's PyTorch model: ``Deployment(...)(images)`` returns
``DetDataSample``\\ s (``pred_instances`` in original-image pixels) for detectors and
mmpretrain ``DataSample``\\ s (``pred_score``, ``pred_label``) for classifiers.

:class:`DeployedModel` is the exported graph as an mmengine model, so mmengine's ``Runner``
tests it exactly like the trained model: same dataloader, same ``data_preprocessor``, same
evaluator (mmdet's ``CocoMetric``, mmpretrain's ``Accuracy``) and visualization hook
(:func:`deployed_config`).
"""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.model import BaseModel

from mmghost.models.utils import is_detector, load_config
from mmghost.registry import MODELS
from .preprocess import (DenseHeadDecoder, Preprocessor, dense_head_config,
                         detections_to_samples, logits_to_samples)
from .backends import create_backend, read_metadata

__all__ = ['DeployedModel', 'Deployment', 'check_model_file', 'check_backend', 'check_test_inputs',
           'deployed_config',
           'match_detections', 'compare_predictions', 'BACKENDS']

BACKENDS = ('pytorch', 'onnxruntime', 'openvino', 'ncnn')


def _config_facts(cfg) -> Dict[str, str]:
    model = cfg.model
    backbone = model.get('backbone') or {}
    head = model.get('bbox_head') or model.get('head') or {}
    facts = dict(task='detector' if is_detector(cfg) else 'classifier',
                 backbone=str(backbone.get('type', '')).split('.')[-1])
    if backbone.get('widen_factor') is not None:
        facts['widen_factor'] = repr(float(backbone['widen_factor']))
    if head.get('num_classes') is not None:
        facts['num_classes'] = str(head['num_classes'])
    if facts['task'] == 'detector':
        facts['detector'] = str(model.get('type', '')).split('.')[-1]
    return facts


def check_model_file(path: str, cfg) -> Dict[str, str]:
    """The model file's metadata, after checking it is an export of the config's model.

    Raises:
        ValueError: The file is another task, detector, backbone, width or class count than
            the config says (the message names both), or not an mmghost export.
    """
    meta = read_metadata(path)
    if 'task' not in meta:
        raise ValueError(f'{path} has no mmghost metadata: export it with '
                         f'tools/deployment/pytorch2onnx.py (or mmghost.export.export_*)')
    wrong = [(k, meta.get(k), v) for k, v in _config_facts(cfg).items()
             if meta.get(k) is not None and meta.get(k) != v]
    if wrong:
        detail = '; '.join(f'{k}: {got!r} in the file, {want!r} in the config'
                           for k, got, want in wrong)
        raise ValueError(f'{path} is not an export of this config\'s model ({detail}); export '
                         f'the config\'s checkpoint again or pass the config it came from')
    return meta


def _check_input(meta: Dict[str, str], inputs: torch.Tensor, path: str) -> None:
    h, w = inputs.shape[-2:]
    if meta.get('dynamic_hw') == 'false' and meta.get('export_shape') != f'{h}x{w}':
        raise ValueError(
            f'{path} was exported for {meta.get("export_shape")} inputs, but the config\'s '
            f'pre-processing gives {h}x{w}; export it at that size or with --dynamic-hw')
    if meta.get('dynamic_batch') == 'false' and \
            int(meta.get('export_batch_size', 1)) != inputs.shape[0]:
        raise ValueError(f'{path} has a static batch of {meta.get("export_batch_size")}, got '
                         f'{inputs.shape[0]} images; use that batch size or export with a '
                         f'dynamic batch')
    least = int(meta.get('min_input_size', 0) or 0)
    if min(h, w) < least:
        raise ValueError(f'{path} is exact for inputs of at least {least} px, got {h}x{w}')


@MODELS.register_module()
class DeployedModel(BaseModel):
    """An exported graph as an mmengine model (``mode='predict'`` only).

    Args:
        model_file (str): The ``.onnx`` file, OpenVINO ``.xml`` IR or ncnn ``.param``.
        backend (str): ``'onnxruntime'``, ``'openvino'`` or ``'ncnn'``.
        task (str): ``'detector'`` or ``'classifier'``.
        num_threads (int, optional): Runtime threads (None: the runtime's default).
        device (str): ``'cpu'`` (ONNX Runtime also takes ``'cuda'``).
        data_preprocessor (dict, optional): The trained model's ``data_preprocessor``.
        head_cfg (dict, optional): For a graph that ends at a dense head's raw maps (ncnn
            detectors): the config's ``bbox_head`` with its ``test_cfg``, which decodes them
            (:func:`mmghost.runtime.preprocess.dense_head_config`).
        scope (str): The registry scope of ``head_cfg``. Defaults to ``'mmdet'``.
    """

    def __init__(self, model_file: str, backend: str = 'onnxruntime', task: str = 'detector',
                 num_threads: Optional[int] = None, device: str = 'cpu',
                 data_preprocessor: Optional[dict] = None, head_cfg: Optional[dict] = None,
                 scope: str = 'mmdet', init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if task not in ('detector', 'classifier'):
            raise ValueError(f'task must be detector or classifier, got {task!r}')
        self.model_file = model_file
        self.task = task
        self.meta = read_metadata(model_file)
        self.decoder = None
        if task == 'detector' and self.meta.get('head_outputs') == 'dense':
            if head_cfg is None:
                raise ValueError(f'{model_file} ends at the raw maps of a '
                                 f'{self.meta.get("head", "dense head")}; give its config\'s '
                                 f'head to decode them (head_cfg=dense_head_config(cfg)["head_cfg"]'
                                 f'), or use Deployment / deployed_config with the config')
            self.decoder = DenseHeadDecoder(head_cfg, scope)
        self.session = create_backend(backend, model_file, num_threads, device)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'a deployed model only predicts, got mode={mode!r}')
        _check_input(self.meta, inputs, self.model_file)
        outs = self.session(np.ascontiguousarray(inputs.float().cpu().numpy()))
        if self.decoder is not None:
            return self.decoder(outs, data_samples)
        if self.task == 'detector':
            masks = outs[3] if len(outs) > 3 else None
            return detections_to_samples(outs[0], outs[1], outs[2], data_samples, masks,
                                         float(self.meta.get('mask_thr_binary', 0.5)),
                                         clip=self.meta.get('clip_boxes', '1') != '0')
        return logits_to_samples(outs[0], data_samples)


def check_test_inputs(cfg, meta: Dict[str, str], model_file: str) -> None:
    """Before a test run: a static graph must take what the config's test set becomes (its
    first image through the config's pre-processing, and the dataloader's batch size).

    Raises:
        ValueError: The graph's static H x W or batch is not what the config gives.
    """
    static_hw = meta.get('dynamic_hw') == 'false'
    static_batch = meta.get('dynamic_batch') == 'false'
    if not (static_hw or static_batch):
        return
    loader = cfg.get('test_dataloader') or {}
    batch = int(loader.get('batch_size', 1))
    if static_batch and int(meta.get('export_batch_size', 1)) != batch:
        raise ValueError(f'{model_file} has a static batch of {meta.get("export_batch_size")}, '
                         f'but test_dataloader.batch_size is {batch}; set it with --cfg-options '
                         f'test_dataloader.batch_size={meta.get("export_batch_size")} or export '
                         f'with a dynamic batch')
    if static_hw:
        from mmengine.registry import DATASETS, DefaultScope

        from mmghost.models.utils import default_scope
        dataset_cfg = copy.deepcopy(dict(loader['dataset']))
        with DefaultScope.overwrite_default_scope(default_scope(cfg)):
            dataset = DATASETS.build(dataset_cfg)
        if len(dataset):
            path = dataset.get_data_info(0)['img_path']
            inputs = Preprocessor(cfg)([path])['inputs']
            _check_input(dict(meta, dynamic_batch='true'), inputs, model_file)


def check_backend(path: str, backend: str) -> None:
    """An ncnn model runs in ncnn only, an ONNX file or OpenVINO IR never in ncnn.

    Raises:
        ValueError: The file is not of the backend's format (the message names the one to use).
    """
    ncnn_file = str(path).endswith('.ncnn.param')
    if ncnn_file and backend != 'ncnn':
        raise ValueError(f'{path} is an ncnn model: run it with backend ncnn (--backend ncnn)')
    if backend == 'ncnn' and not ncnn_file:
        raise ValueError(f'{path} is not an ncnn model (.ncnn.param): export one with '
                         f'tools/deployment/pytorch2ncnn.py, or run this file with onnxruntime '
                         f'or openvino')


def decoder_args(cfg, meta: Dict[str, str]) -> dict:
    """``head_cfg`` and ``scope`` of :class:`DeployedModel` when the file ends at a dense head's
    raw maps (ncnn detectors), else nothing."""
    if meta.get('task') == 'detector' and meta.get('head_outputs') == 'dense':
        return dense_head_config(cfg)
    return {}


def deployed_config(config, model_file: str, backend: str = 'onnxruntime',
                    num_threads: Optional[int] = None, device: str = 'cpu'):
    """A copy of ``config`` whose model is the exported ``model_file`` (checked to be an export
    of the config's model), for ``Runner.from_cfg(...).test()``."""
    cfg = load_config(config)
    check_backend(model_file, backend)
    meta = check_model_file(model_file, cfg)
    check_test_inputs(cfg, meta, model_file)
    task = 'detector' if meta['task'] == 'detector' else 'classifier'
    model = dict(type='mmghost.DeployedModel', model_file=model_file, backend=backend,
                 task=task, num_threads=num_threads, device=device,
                 data_preprocessor=copy.deepcopy(cfg.model.data_preprocessor),
                 **decoder_args(cfg, meta))
    cfg.model = model
    cfg.load_from = None
    cfg.custom_hooks = []  # they act on the PyTorch model (channels-last, EMA, ...)
    return cfg


class Deployment:
    """Images in, data samples out, through any backend (see the module docstring).

    Args:
        config: The model's config (path, ``pkg::`` name or Config).
        model (str): The exported file (``.onnx`` / ``.xml`` / ncnn ``.param``), or for
            ``backend='pytorch'`` a checkpoint (training or deploy form).
        backend (str): ``'pytorch'``, ``'onnxruntime'``, ``'openvino'`` or ``'ncnn'``.
        device (str): ``'cpu'`` (or a CUDA device for PyTorch / ONNX Runtime).
        num_threads (int, optional): Threads of the runtime.
    """

    def __init__(self, config, model: str, backend: str = 'onnxruntime', device: str = 'cpu',
                 num_threads: Optional[int] = None):
        if backend not in BACKENDS:
            raise ValueError(f'unknown backend {backend!r}; choose one of {list(BACKENDS)}')
        self.cfg = load_config(config)
        self.backend = backend
        self.preprocessor = Preprocessor(self.cfg)
        if backend == 'pytorch':
            from mmghost.reparameterize.deploy_form import load_model
            self.model, _ = load_model(self.cfg, model)
            self.model.to(device).eval()
        else:
            check_backend(model, backend)
            meta = check_model_file(model, self.cfg)
            self.model = DeployedModel(model, backend, 'detector' if meta['task'] == 'detector'
                                       else 'classifier', num_threads, device,
                                       **decoder_args(self.cfg, meta))
        self.dataset_meta = _dataset_meta(self.cfg)

    @torch.no_grad()
    def __call__(self, images: Sequence[Union[str, np.ndarray]]) -> List:
        data = self.preprocessor(list(images))
        if self.backend == 'pytorch':
            return self.model.predict(data['inputs'], data['data_samples'])
        return self.model(data['inputs'], data['data_samples'])


def _dataset_meta(cfg) -> dict:
    """The class names (and palette) of the config's test set (its metainfo or its class)."""
    from mmghost.engine.preflight import dataset_classes
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset', {})
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    classes = dataset_classes(dataset, cfg.get('default_scope'))
    meta = dict(classes=tuple(classes) if classes else None)
    palette = (dataset.get('metainfo') or {}).get('palette')
    if palette:
        meta['palette'] = palette
    return meta


def match_detections(ref_boxes, ref_labels, boxes, labels, rtol: float = 1e-3):
    """Whether two detection sets are the same, whatever their order among equal scores.

    Each reference detection is paired with the unpaired detection of the same label whose box
    is nearest; the sets are the same when the counts are equal and every pair's boxes differ by
    at most ``rtol`` times the largest reference coordinate.

    Returns:
        tuple: ``(what differs ('' when nothing), largest relative box difference)``.
    """
    ref_boxes, boxes = torch.as_tensor(ref_boxes).float(), torch.as_tensor(boxes).float()
    ref_labels, labels = torch.as_tensor(ref_labels).long(), torch.as_tensor(labels).long()
    if len(ref_boxes) != len(boxes):
        return f'{len(ref_boxes)} detections in the reference, {len(boxes)} here', float('inf')
    if not len(boxes):
        return '', 0.0
    scale = ref_boxes.abs().max().clamp_min(1e-6)
    free = torch.ones(len(boxes), dtype=torch.bool)
    worst = 0.0
    for box, label in zip(ref_boxes, ref_labels):
        same = free & (labels == label)
        if not same.any():
            return f'a class-{int(label)} detection has no counterpart', float('inf')
        dist = (boxes - box).abs().max(1).values.masked_fill(~same, float('inf'))
        j = int(dist.argmin())
        free[j] = False
        worst = max(worst, float(dist[j] / scale))
    return ('' if worst <= rtol else f'boxes differ by {worst:.2e} (relative)'), worst


@torch.no_grad()
def compare_predictions(config, checkpoint: str, model_file: str, backend: str = 'onnxruntime',
                        threads: Optional[int] = None, rtol: float = 1e-3,
                        max_batches: Optional[int] = None) -> Dict[str, object]:
    """Run the config's test set through the PyTorch model and the deployed one, image by image.

    Detectors: the same detections above the head's ``score_thr`` (count, labels, boxes
    within ``rtol`` of the largest coordinate); classifiers: the same top-1 class.

    Returns:
        dict: ``images``, ``same`` (all equal), ``differing`` (``[(image, what)]``),
        ``max_box_rel_diff`` (detectors) and ``summary`` (one line).
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from mmghost.models.utils import default_scope
    from mmghost.reparameterize.deploy_form import load_model
    cfg = load_config(config)
    check_backend(model_file, backend)
    torch_model, _ = load_model(cfg, checkpoint)
    meta = check_model_file(model_file, cfg)
    task = 'detector' if meta['task'] == 'detector' else 'classifier'
    deployed = DeployedModel(model_file, backend, task, threads, **decoder_args(cfg, meta))
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        loader = Runner.build_dataloader(cfg.test_dataloader)
    test_cfg = cfg.model.get('test_cfg') or {}
    test_cfg = test_cfg.get('rcnn', test_cfg)  # two-stage: the RoI head's
    score_thr = float(test_cfg.get('score_thr', 0) or 0) if task == 'detector' else 0.0
    differing, images, worst = [], 0, 0.0
    for i, data in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        data = torch_model.data_preprocessor(data, False)
        refs = torch_model.predict(data['inputs'], data['data_samples'])
        gots = deployed(data['inputs'], [s.clone() for s in data['data_samples']])
        for ref, got in zip(refs, gots):
            images += 1
            name = osp.basename(ref.metainfo.get('img_path', str(images)))
            if task == 'detector':
                a, b = ref.pred_instances, got.pred_instances
                ka, kb = a.scores > score_thr, b.scores > score_thr
                what, rel = match_detections(a.bboxes[ka].cpu(), a.labels[ka].cpu(),
                                             b.bboxes[kb].cpu(), b.labels[kb].cpu(), rtol)
                if not what:
                    worst = max(worst, rel)
            else:
                same = int(ref.pred_label) == int(got.pred_label)
                what = '' if same else (f'top-1 {int(ref.pred_label)} in PyTorch, '
                                        f'{int(got.pred_label)} deployed')
            if what:
                differing.append((name, what))
    what = f'detections above score_thr {score_thr}' if task == 'detector' else 'top-1'
    summary = (f'{images - len(differing)} of {images} images give the same {what}' +
               (f' (boxes within {worst:.1e} relative)' if task == 'detector' else ''))
    if differing:
        summary += '; differing: ' + '; '.join(f'{n}: {w}' for n, w in differing[:5])
    return dict(images=images, same=not differing, differing=differing,
                max_box_rel_diff=worst, summary=summary)
