"""The GhostNets deployed beside the MobileNets: one table, with the speed goals' ratios.

    python benchmarks/ghost_vs_mobilenet.py [--threads 2] [--batch 1 8] [--size 224]
        [--rounds 7] [--repeats 10] [--no-timm] [--out-md F]

One run of the benchmark runner (:func:`mmghost.analysis.run_benchmark`): GhostNetV3, GhostNetV2,
RepGhostNet and GhostNet at 1.0x, mmpretrain's MobileNetV3-Large, MobileNetV2 and MobileOne-S0
(re-parameterized) and timm's ``ghostnetv3_100`` (re-parameterized, exported the same way),
each in ONNX Runtime and OpenVINO, fp32 and INT8 (``@exported``); the GhostNets that the
channel-aligned export rewrites (V1, V2, V3) also in ONNX Runtime before it (``@ort-plain``);
a 2048^2 matmul for the FLOP floor; all timed in interleaved rounds (the exported files in a
torch-free process), per batch size. ImageNet top-1 comes from the model zoos' metafiles and
the family descriptors (:mod:`mmghost.analysis.top1`). It prints the runner's table, then
one compact table (median ms per form, p10 in brackets) and the goals' ratios of medians
and of 10th percentiles (which noise inflates less), from this run only; a goal is "met" when
both ratios meet it, "NOT met" when neither does, and "noise" when they disagree:

* GhostNetV3 / MobileNetV3-Large in each runtime and precision: <= 1.0;
* GhostNetV3's best path / its FLOP floor (2 x MACs at the matmul's rate): <= 2.0;
* GhostNetV3 / timm's ``ghostnetv3_100`` in each runtime and precision: <= 0.8.

Models are timed whole (ImageNet head, 1000 classes) from random weights in eval mode.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = osp.join(REPO, 'configs', 'classification', '_base_', 'models')
OURS = ('ghostnetv3', 'ghostnetv2', 'repghostnet', 'ghostnet')
REWRITTEN = ('ghostnetv3', 'ghostnetv2', 'ghostnet')  # the families the aligned export pads
PEERS = ('mmpretrain::mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py',
         'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
         'mmpretrain::mobileone/mobileone-s0_8xb32_in1k.py')
TIMM = 'timm:ghostnetv3_100'
MBV3 = 'mobilenet-v3-large'
V3 = 'ghostnetv3'
FORMS = ('ort-plain', 'ort', 'ort-int8', 'openvino', 'openvino-int8')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--no-timm', action='store_true', help='skip timm\'s ghostnetv3_100')
    parser.add_argument('--out-md', help='also write the tables to this markdown file')
    return parser.parse_args(argv)


def specs(with_timm: bool):
    out = []
    for name in OURS:
        path = osp.join(MODELS, f'{name}.py')
        out.append(path + '@exported')
        if name in REWRITTEN:
            out.append(path + '@ort-plain')
    out += [p + '@exported' for p in PEERS]
    if with_timm:
        out.append(TIMM + '@exported')
    return out


def compact_table(rows, batch: int) -> str:
    """One row per model: top-1, MMACs, then median (p10) ms of each form, and the floor."""
    from mmghost.analysis import ok_rows
    ok = ok_rows(rows, batch)
    models = list(dict.fromkeys(r['model'] for r in rows if r['batch'] == batch))
    head = ['model', 'ImageNet top-1', 'MMACs'] + list(FORMS) + ['FLOP floor ms']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for m in models:
        any_row = next(r for r in rows if r['model'] == m and r['batch'] == batch)
        cells = [m, f'{any_row["top1"]:.1f}' if any_row.get('top1') else '–',
                 f'{any_row["macs"] / 1e6:.0f}' if any_row.get('macs') else '–']
        for form in FORMS:
            r = ok.get((m, form))
            cells.append(f'{r["median_ms"]:.2f} ({r["p10_ms"]:.2f})' if r else '–')
        floors = [r.get('floor_ms') for (mm, _), r in ok.items() if mm == m and r.get('floor_ms')]
        cells.append(f'{floors[0]:.2f}' if floors else '–')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def goal_lines(rows, batch: int):
    """``| ratio | of medians | of p10s | goal | verdict |`` rows for one batch size."""
    from mmghost.analysis import goal_line, ok_rows
    ok = ok_rows(rows, batch)
    lines = [goal_line(f'GhostNetV3 / MobileNetV3-L, {form}', ok.get((V3, form)),
                       ok.get((MBV3, form)), 1.0, missing=True) for form in FORMS[1:]]
    ours = [ok[(V3, f)] for f in FORMS if (V3, f) in ok]
    best = min(ours, key=lambda r: r['median_ms']) if ours else None
    if best and best.get('floor_ms'):
        floor = best['floor_ms']
        lines.append(goal_line(f'GhostNetV3 best ({best["form"]}) / FLOP floor ({floor:.2f} ms)',
                               best, dict(median_ms=floor, p10_ms=floor), 2.0))
    lines += [goal_line(f'GhostNetV3 / timm ghostnetv3_100, {form}', ok.get((V3, form)),
                        ok.get((TIMM, form)), 0.8, missing=True) for form in FORMS[1:]]
    return lines


def main(argv=None):
    args = parse_args(argv)
    from mmghost.analysis import GOAL_HEADER, emit, report, run_benchmark

    def log(msg):
        print(f'[ghost_vs_mobilenet] {msg}', file=sys.stderr, flush=True)

    rows = run_benchmark(specs(not args.no_timm), batches=args.batch,
                         shape=(args.size, args.size), device='cpu', threads=args.threads,
                         warmup=args.warmup, rounds=args.rounds, repeats=args.repeats, log=log,
                         flop_floor=True)
    out = [report(rows)]
    for batch in args.batch:
        out += [f'\nBatch {batch}, {args.size}x{args.size}, {args.threads} threads: median ms '
                f'(p10)\n', compact_table(rows, batch),
                f'\nGoals, batch {batch} (ratios of this run):\n'] + GOAL_HEADER
        out += goal_lines(rows, batch)
    emit('\n'.join(out) + '\n', args.out_md)


if __name__ == '__main__':
    main()
