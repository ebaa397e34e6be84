"""Deterministic synthetic image data for demos and tests (no download needed).

``make_shape_classification`` writes an mmpretrain ``CustomDataset`` folder tree
(``<root>/{train,val}/<class>/<n>.png``) of small images, each showing one shape class
(circle, square, triangle, cross) with random size, position, colours and a noisy textured
background. The same seed always gives the same files.

    python -m mmghost.datasets.demo_shapes --out data/demo_cls
"""
import argparse
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np

__all__ = ['SHAPE_CLASSES', 'make_shape_classification', 'draw_shape']

SHAPE_CLASSES = ('circle', 'square', 'triangle', 'cross')


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.integers(0, 256, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, np.pi)
    wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * rng.uniform(4, 12) * np.pi)
    img = base[None, None, :] + 40 * wave[..., None] + rng.normal(0, 12, (size, size, 3))
    return img


def draw_shape(img: np.ndarray, shape: str, rng: np.random.Generator,
               box: Tuple[int, int, int, int]) -> np.ndarray:
    """Paint ``shape`` filling the box ``(x0, y0, x1, y1)``; returns its binary mask."""
    import cv2
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
    if shape == 'circle':
        cv2.ellipse(mask, (int(round(cx)), int(round(cy))),
                    (max(1, int(rx)), max(1, int(ry))), 0, 0, 360, 1, -1)
    elif shape == 'square':
        cv2.rectangle(mask, (x0, y0), (x1 - 1, y1 - 1), 1, -1)
    elif shape == 'triangle':
        pts = np.array([[cx, y0], [x1 - 1, y1 - 1], [x0, y1 - 1]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    elif shape == 'cross':
        t = max(1, int(min(rx, ry) * 0.45))
        cv2.rectangle(mask, (x0, int(cy) - t), (x1 - 1, int(cy) + t), 1, -1)
        cv2.rectangle(mask, (int(cx) - t, y0), (int(cx) + t, y1 - 1), 1, -1)
    else:
        raise ValueError(f'unknown shape {shape!r}; expected one of {SHAPE_CLASSES}')
    colour = rng.integers(0, 256, size=3)
    # Keep the shape visible against the background.
    bg = img[mask.astype(bool)].mean(0) if mask.any() else colour
    if np.abs(colour - bg).sum() < 150:
        colour = 255 - colour
    img[mask.astype(bool)] = colour + rng.normal(0, 8, (int(mask.sum()), 3))
    return mask


def make_shape_classification(root: str, num_train: int = 800, num_val: int = 200,
                              size: int = 32, seed: int = 0) -> Dict[str, int]:
    """Write the classification demo set under ``root``; returns the image count per split."""
    import cv2
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n in (('train', num_train), ('val', num_val)):
        for cls in SHAPE_CLASSES:
            os.makedirs(osp.join(root, split, cls), exist_ok=True)
        for i in range(n):
            cls = SHAPE_CLASSES[i % len(SHAPE_CLASSES)]
            img = _background(rng, size)
            side = int(rng.uniform(0.45, 0.85) * size)
            x0 = int(rng.integers(0, size - side + 1))
            y0 = int(rng.integers(0, size - side + 1))
            draw_shape(img, cls, rng, (x0, y0, x0 + side, y0 + side))
            img = np.clip(img, 0, 255).astype(np.uint8)
            cv2.imwrite(osp.join(root, split, cls, f'{i:05d}.png'), img)
        counts[split] = n
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_cls')
    parser.add_argument('--num-train', type=int, default=800)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = make_shape_classification(args.out, args.num_train, args.num_val, args.size,
                                       args.seed)
    print(f'wrote {counts} images of {SHAPE_CLASSES} to {args.out}')


if __name__ == '__main__':
    main()
