"""Seeded weights for a key manifest, and the seeded inputs of the logits fixtures.

Each tensor depends only on its copy's name, its key, shape and dtype (a generator seeded with a
CRC-32 of ``copy/key``), so ``make_reference_data.py`` (loading them into the reference model)
and the tests (writing them into a checkpoint file) build the same weights without sharing
anything else. Values are shaped for a network that stays finite in eval mode: convolution and
linear weights scaled by ``1/sqrt(fan_in)``, 1-D weights near 1 (near 1/4 in the summed
branches of a re-parameterizable module), BN variances in [0.5, 1.5].
"""
import zlib
from typing import Dict, Sequence

import torch

__all__ = ['seeded_tensor', 'seeded_state_dict', 'seeded_input', 'checksum']

DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'int64': torch.int64}


def seeded_tensor(key: str, shape: Sequence[int], dtype: str, copy: str = '') -> torch.Tensor:
    """The tensor for ``key`` of the state dict ``copy`` (``''`` for a flat file)."""
    seed = zlib.crc32(f'{copy}/{key}'.encode())
    g = torch.Generator().manual_seed(seed)
    shape = tuple(shape)
    if dtype == 'int64':
        return torch.full(shape, seed % 1000, dtype=torch.int64)
    if dtype == 'float64':  # thop's total_ops / total_params counters
        return torch.full(shape, float(seed % 1000), dtype=torch.float64)
    name = key.rsplit('.', 1)[-1]
    if name == 'running_var':
        t = torch.rand(shape, generator=g) + 0.5
    elif name in ('running_mean', 'bias'):
        t = 0.1 * torch.randn(shape, generator=g)
    elif len(shape) <= 1:
        t = 1 + 0.2 * torch.randn(shape, generator=g)
        if '_rpr_' in key or 'fusion_bn' in key:
            t = t / 4  # a re-parameterization branch: the 3-5 summed branches stay near 1
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        t = torch.randn(shape, generator=g) * fan_in ** -0.5
    return t.to(DTYPES[dtype])


def seeded_state_dict(tensors: Dict[str, Sequence], copy: str = '') -> Dict[str, torch.Tensor]:
    """``{key: [shape, dtype]}`` (a manifest's ``tensors``) -> seeded tensors."""
    return {k: seeded_tensor(k, shape, dtype, copy) for k, (shape, dtype) in tensors.items()}


def seeded_input(shape: Sequence[int], seed: int = 0) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))


def checksum(tensors) -> float:
    """Sum of every value in float64: tells a changed generator from a wrong conversion."""
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    elif isinstance(tensors, dict):
        tensors = tensors.values()
    return float(sum(t.double().sum() for t in tensors))
