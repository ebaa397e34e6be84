"""A small COCO-format detection and instance-segmentation dataset, generated (no download).

Images show 1-4 shapes (circle, square, triangle) of random size, colour and position on
noisy, striped backgrounds; every shape has a box, a polygon mask and its area. The splits are
written as ``<root>/{train,val}/*.png`` with ``<root>/annotations/instances_{train,val}.json``,
which mmdet's ``CocoDataset`` and pycocotools read as they are. The same seed always gives
the same files.

    python -m mmghost.datasets.demo_coco --out data/demo_coco [--if-changed]

The annotation files record the generator's arguments; ``--if-changed`` keeps a set written
with the same arguments instead of writing it again.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mmghost.checkpoint.atomic import atomic_write

from .demo_shapes import _background, draw_shape

__all__ = ['DEMO_COCO_CLASSES', 'make_demo_coco']

DEMO_COCO_CLASSES = ('circle', 'square', 'triangle')
# Shapes 32 to 64 px wide on 128-px images: 32 px is the smallest anchor of mmdet's RetinaNet,
# so every shape has anchors to be matched with.
DEFAULTS = dict(num_train=300, num_val=60, size=128, seed=0, classes=DEMO_COCO_CLASSES,
                max_objects=4, scale_range=(0.25, 0.5))


def _polygons(mask: np.ndarray) -> List[List[float]]:
    import cv2
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if len(c) >= 3:
            polys.append([float(v) for v in c.reshape(-1)])
    return polys


def _split(rng: np.random.Generator, root: str, split: str, num_images: int, size: int,
           classes: Sequence[str], start_id: int, max_objects: int,
           scale_range: Tuple[float, float], generator: Dict) -> Dict:
    import cv2
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    ann_id = start_id
    for i in range(num_images):
        img = _background(rng, size)
        occupied = np.zeros((size, size), bool)
        anns = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            side = int(rng.uniform(*scale_range) * size)
            for _try in range(20):  # keep shapes apart so every box is fully visible
                x0 = int(rng.integers(0, size - side + 1))
                y0 = int(rng.integers(0, size - side + 1))
                if not occupied[max(0, y0 - 2):y0 + side + 2, max(0, x0 - 2):x0 + side + 2].any():
                    break
            else:
                continue
            label = int(rng.integers(0, len(classes)))
            mask = draw_shape(img, classes[label], rng, (x0, y0, x0 + side, y0 + side))
            occupied |= mask.astype(bool)
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                continue
            x, y = int(xs.min()), int(ys.min())
            w, h = int(xs.max()) - x + 1, int(ys.max()) - y + 1
            anns.append(dict(id=ann_id, image_id=i + 1, category_id=label + 1,
                             bbox=[x, y, w, h], area=float(mask.sum()), iscrowd=0,
                             segmentation=_polygons(mask)))
            ann_id += 1
        file_name = f'{i:05d}.png'
        cv2.imwrite(osp.join(root, split, file_name),
                    np.clip(img, 0, 255).astype(np.uint8))
        images.append(dict(id=i + 1, file_name=file_name, width=size, height=size))
        annotations += anns
    return dict(
        info=dict(description=f'mmghost demo shapes ({split})', version='1.0',
                  generator=generator),
        images=images,
        annotations=annotations,
        categories=[dict(id=k + 1, name=n, supercategory='shape')
                    for k, n in enumerate(classes)])


def make_demo_coco(root: str, **kwargs) -> Dict[str, int]:
    """Write the demo detection dataset under ``root``; returns annotation counts per split.

    Keyword arguments (defaults in ``DEFAULTS``): ``num_train``, ``num_val`` images of
    ``size`` px, ``seed``, ``classes``; each image holds 1 to ``max_objects``
    non-overlapping shapes whose side is ``scale_range`` times the image size.
    """
    generator = generator_args(**kwargs)
    num_train, num_val, size, seed = (generator[k]
                                      for k in ('num_train', 'num_val', 'size', 'seed'))
    classes, max_objects = generator['classes'], generator['max_objects']
    scale_range = tuple(generator['scale_range'])
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    counts = {}
    for split, n in (('train', num_train), ('val', num_val)):
        coco = _split(rng, root, split, n, size, classes, 1, max_objects, scale_range,
                      generator)
        path = osp.join(root, 'annotations', f'instances_{split}.json')
        atomic_write(path, json.dumps(coco).encode())  # never half-written
        counts[split] = len(coco['annotations'])
    return counts


def generator_args(**kwargs) -> Dict:
    """``DEFAULTS`` updated with ``kwargs``, as recorded in the annotation files."""
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise TypeError(f'unknown demo_coco argument(s) {sorted(unknown)}; '
                        f'expected some of {sorted(DEFAULTS)}')
    args = dict(DEFAULTS, **kwargs)
    args['classes'] = list(args['classes'])
    args['scale_range'] = [float(v) for v in args['scale_range']]
    return args


def is_current(root: str, **kwargs) -> bool:
    """Whether ``root`` holds a complete set written with these arguments."""
    want = generator_args(**kwargs)
    for split in ('train', 'val'):
        path = osp.join(root, 'annotations', f'instances_{split}.json')
        try:
            with open(path) as f:
                coco = json.load(f)
        except (OSError, ValueError):
            return False
        if coco.get('info', {}).get('generator') != want:
            return False
        if not all(osp.isfile(osp.join(root, split, im['file_name']))
                   for im in coco['images']):
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_coco')
    parser.add_argument('--num-train', type=int, default=DEFAULTS['num_train'])
    parser.add_argument('--num-val', type=int, default=DEFAULTS['num_val'])
    parser.add_argument('--size', type=int, default=DEFAULTS['size'])
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    parser.add_argument('--if-changed', action='store_true',
                        help='do nothing if OUT already holds the set these arguments write')
    args = parser.parse_args()
    kwargs = dict(num_train=args.num_train, num_val=args.num_val, size=args.size,
                  seed=args.seed)
    if args.if_changed and is_current(args.out, **kwargs):
        print(f'{args.out} already holds this demo set; kept it')
        return
    counts = make_demo_coco(args.out, **kwargs)
    print(f'wrote {args.num_train} train / {args.num_val} val images with {counts} objects '
          f'of {DEMO_COCO_CLASSES} to {args.out}')


if __name__ == '__main__':
    main()
