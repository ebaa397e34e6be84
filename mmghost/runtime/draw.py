"""Drawing a deployed model's predictions on its image (mmdet's and mmpretrain's visualizers)."""
import os
import os.path as osp
__all__ = ['draw_predictions', 'top_classes']


def top_classes(sample, classes=None, k: int = 5):
    """``[(class name or index, score)]`` of a classification sample, best first."""
    scores = sample.pred_score
    top = scores.topk(min(k, scores.numel()))
    names = list(classes) if classes else None
    return [(names[i] if names else int(i), float(s)) for s, i in zip(*top)]


def draw_predictions(deployment, image_path: str, sample, out_dir: str,
                     score_thr: float = 0.3, log=None) -> str:
    """Write ``out_dir/<image name>`` with the predictions drawn; returns the written path.

    Detectors: boxes and class names above ``score_thr`` (``DetLocalVisualizer``);
    classifiers: the top-5 classes (``UniversalVisualizer``), also given to ``log``.
    """
    import mmcv
    os.makedirs(out_dir, exist_ok=True)
    image = mmcv.imread(image_path, channel_order='rgb')
    if image is None:
        raise ValueError(f'cannot read the image {image_path}')
    out = osp.join(out_dir, osp.basename(image_path))
    meta = dict(deployment.dataset_meta)
    if hasattr(sample, 'pred_instances'):
        from mmdet.visualization import DetLocalVisualizer
        vis = DetLocalVisualizer.get_instance(f'mmghost_demo_det_{id(deployment)}')
        vis.dataset_meta = {k: v for k, v in meta.items() if v is not None}
        vis.add_datasample(osp.basename(image_path), image, sample, draw_gt=False,
                           pred_score_thr=score_thr, out_file=out)
        if log:
            n = int((sample.pred_instances.scores > score_thr).sum())
            log(f'{image_path}: {n} detections above {score_thr} -> {out}')
        return out
    from mmpretrain.visualization import UniversalVisualizer
    top5 = top_classes(sample, meta.get('classes'))
    vis = UniversalVisualizer.get_instance(f'mmghost_demo_cls_{id(deployment)}')
    vis.visualize_cls(image, sample, classes=meta.get('classes'), draw_gt=False, show=False,
                      out_file=out)
    if log:
        log(f'{image_path}: ' + ', '.join(f'{n} {s:.3f}' for n, s in top5) + f' -> {out}')
    return out
