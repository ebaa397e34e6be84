"""Real handwritten digits for the classification demo, written as an mmpretrain CustomDataset.

scikit-learn ships 1,797 8x8 scans of handwritten digits (UCI "optdigits", 0-16 grey levels).
This writes them upscaled to 32x32 RGB PNGs under ``<root>/{train,val}/<digit>/``, with a
stratified held-out ``val`` split chosen by seed, and records its arguments in
``<root>/meta.json``. No download.

    python -m mmghost.datasets.demo_digits --out data/demo_digits [--if-changed]
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict

import numpy as np

from mmghost.checkpoint.atomic import atomic_write

__all__ = ['DIGIT_CLASSES', 'make_digits_classification', 'digits_is_current']

DIGIT_CLASSES = tuple(str(i) for i in range(10))


def _args(size: int, val_fraction: float, seed: int) -> Dict:
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}')
    if size < 8:
        raise ValueError(f'size must be at least the scans\' 8 px, got {size}')
    return dict(source='sklearn.datasets.load_digits', size=size,
                val_fraction=float(val_fraction), seed=seed, format=1)


def make_digits_classification(root: str, size: int = 32, val_fraction: float = 0.2,
                               seed: int = 0) -> Dict[str, int]:
    """Write the digits under ``root``; returns the image count per split."""
    import cv2
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError('the digits demo reads scikit-learn\'s bundled handwritten digits: '
                          'pip install scikit-learn (or pip install "mmghost[demo]")') from e
    meta = _args(size, val_fraction, seed)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(digits.target), bool)
    for c in range(10):  # stratified: the same fraction of every digit is held out
        idx = np.flatnonzero(digits.target == c)
        is_val[rng.choice(idx, int(round(len(idx) * val_fraction)), replace=False)] = True
    counts = {'train': 0, 'val': 0}
    for split in counts:
        for c in DIGIT_CLASSES:
            os.makedirs(osp.join(root, split, c), exist_ok=True)
    for i, (img, label) in enumerate(zip(digits.images, digits.target)):
        split = 'val' if is_val[i] else 'train'
        grey = cv2.resize((img * (255 / 16)).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
        grey = np.clip(grey, 0, 255).astype(np.uint8)
        cv2.imwrite(osp.join(root, split, str(label), f'{i:04d}.png'),
                    cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        counts[split] += 1
    # Written last: marks a complete set.
    atomic_write(osp.join(root, 'meta.json'), json.dumps(dict(meta, counts=counts)).encode())
    return counts


def digits_is_current(root: str, size: int = 32, val_fraction: float = 0.2,
                      seed: int = 0) -> bool:
    """Whether ``root`` holds a complete set written with these arguments."""
    try:
        with open(osp.join(root, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    counts = meta.pop('counts', {})
    if meta != _args(size, val_fraction, seed):
        return False
    return all(
        sum(len(os.listdir(osp.join(root, s, c))) for c in DIGIT_CLASSES
            if osp.isdir(osp.join(root, s, c))) == n for s, n in counts.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_digits')
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--val-fraction', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--if-changed', action='store_true',
                        help='do nothing if OUT already holds the set these arguments write')
    args = parser.parse_args()
    if args.if_changed and digits_is_current(args.out, args.size, args.val_fraction, args.seed):
        print(f'{args.out} already holds this digits set; kept it')
        return
    counts = make_digits_classification(args.out, args.size, args.val_fraction, args.seed)
    print(f'wrote {counts} digit images to {args.out}')


if __name__ == '__main__':
    main()
