"""Training-step time of a KD student against the same student without its teacher.

    python benchmarks/kd_overhead.py [--plain CONFIG] [--kd CONFIG] [--batch N] [--rounds R]

Both models are built from their configs (the teacher's checkpoint is not needed for timing
and is skipped when absent) and their ``train_step`` is timed in interleaved rounds on the
same random batch; the ratio of the medians is the cost of distillation on this machine.
"""
import argparse
import statistics

import torch

DEMO = 'configs/classification/demo/'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--plain', default=DEMO + 'ghostnetv3-small_digits-demo.py')
    parser.add_argument('--kd', default=DEMO + 'ghostnetv3-small_digits-kd-demo.py')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=5)
    return parser.parse_args()


def build(path):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from mmghost.models.utils import build_from_config, default_scope, load_config
    cfg = load_config(path)
    model = build_from_config(cfg)  # a teacher checkpoint that is absent is not needed here
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model.train(), wrapper, cfg.model.head.num_classes


def main():
    args = parse_args()
    from mmpretrain.structures import DataSample
    runs = {}
    for name, path in (('plain', args.plain), ('kd', args.kd)):
        model, wrapper, n = build(path)
        data = dict(inputs=[torch.randint(0, 256, (3, args.size, args.size), dtype=torch.uint8)
                            for _ in range(args.batch)],
                    data_samples=[DataSample().set_gt_label(i % n) for i in range(args.batch)])
        runs[name] = (model, wrapper, data)
    from mmghost.analysis import time_interleaved
    calls = {k: (lambda m=m, w=w, d=d: m.train_step(d, w)) for k, (m, w, d) in runs.items()}
    times = time_interleaved(calls, warmup=1, rounds=args.rounds, repeats=args.repeats,
                             inference=False)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, '
          f'{args.size}x{args.size}')
    print(f'train_step median: plain {med["plain"]:.1f} ms, KD {med["kd"]:.1f} ms, '
          f'KD / plain = {med["kd"] / med["plain"]:.2f}')


if __name__ == '__main__':
    main()
