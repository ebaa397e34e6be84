"""Inference latency of several configs' models, measured side by side in one process.

    python tools/analysis_tools/benchmark_latency.py MODEL [MODEL ...] [--shape H [W]]
        [--batch N] [--threads T] [--part {model,backbone,both}] [--rounds R] [--repeats K]

MODEL is a config path or an ``mmdet::``/``mmpretrain::`` config name, optionally followed by
``@deploy`` to time its re-parameterized form (``mmghost.switch_to_deploy``). Detectors are
timed through ``predict`` (network + box decoding + NMS) on a random normalized image;
classifiers through their logits; ``--part backbone`` times only ``model.backbone``.

The machine is noisy, so models are timed in interleaved rounds (R rounds of K timed calls
each, after warm-up) and the table gives each model's median, its spread (10th-90th
percentile) and the ratio of its median to the first model's.
"""
import argparse
import statistics
from typing import Callable, Dict, List, Tuple

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='CONFIG or mmdet::NAME, optionally @deploy')
    parser.add_argument('--shape', type=int, nargs='+', default=[224], help='input H [W]')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--part', choices=['model', 'backbone', 'both'], default='model')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=10)
    return parser.parse_args()


def load_config(name: str):
    from mmengine.config import Config
    if '::' in name:
        from mmengine.hub import get_config
        return get_config(name)
    return Config.fromfile(name)


def build_model(name: str, deploy: bool = False) -> Tuple[torch.nn.Module, str]:
    """Builds the config's model without pretrained weights; returns it and its scope."""
    from mmengine.registry import MODELS, DefaultScope

    import mmghost  # noqa: F401  (registers the mmghost scope)
    from mmghost import switch_to_deploy
    cfg = load_config(name)
    scope = cfg.get('default_scope', 'mmdet')
    if cfg.model.get('backbone') is not None:
        cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    if deploy:
        switch_to_deploy(model)
    return model.eval(), scope


def make_call(model: torch.nn.Module, part: str, batch: int,
              shape: Tuple[int, int]) -> Callable[[], object]:
    """A no-argument function running one inference of ``part`` on a fixed random input."""
    h, w = shape
    inputs = torch.randn(batch, 3, h, w)
    if part == 'backbone':
        return lambda: model.backbone(inputs)
    try:
        from mmdet.models.detectors import BaseDetector
    except ImportError:  # mmdet is optional for classification users
        BaseDetector = ()
    if isinstance(model, BaseDetector):
        from mmdet.structures import DetDataSample
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                    batch_input_shape=(h, w), scale_factor=(1.0, 1.0))
        samples = [DetDataSample(metainfo=meta) for _ in range(batch)]
        return lambda: model.predict(inputs, samples)
    return lambda: model(inputs, mode='tensor')


def percentile(values: List[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def markdown_table(times: Dict[str, List[float]], params: Dict[str, int]) -> str:
    keys = list(times)
    ref = statistics.median(times[keys[0]])
    lines = ['| model | params | median ms | p10-p90 ms | ratio to first |',
             '|---|---|---|---|---|']
    for k in keys:
        med = statistics.median(times[k])
        lines.append(f'| {k} | {params[k] / 1e6:.2f}M | {med:.1f} | '
                     f'{percentile(times[k], 0.1):.1f}-{percentile(times[k], 0.9):.1f} | '
                     f'{med / ref:.2f} |')
    return '\n'.join(lines)


def main():
    from mmghost.utils.timing import time_interleaved
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = (args.shape[0], args.shape[-1])
    parts = ['backbone', 'model'] if args.part == 'both' else [args.part]
    models = {}
    for spec in args.models:
        name, _, form = spec.partition('@')
        if form not in ('', 'deploy'):
            raise SystemExit(f'unknown form {form!r} in {spec!r}; only "@deploy" is accepted')
        label = name.split('/')[-1].replace('.py', '') + (' (deploy)' if form else '')
        models[label] = build_model(name, deploy=bool(form))[0]
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, '
          f'input {shape[0]}x{shape[1]}, {args.rounds} rounds x {args.repeats} calls')
    for part in parts:
        calls = {k: make_call(m, part, args.batch, shape) for k, m in models.items()}
        params = {k: sum(p.numel() for p in (m.backbone if part == 'backbone' else m).parameters())
                  for k, m in models.items()}
        times = time_interleaved(calls, args.warmup, args.rounds, args.repeats)
        print(f'\n{part} latency')
        print(markdown_table(times, params))


if __name__ == '__main__':
    main()
