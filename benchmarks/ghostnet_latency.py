"""GhostNetV3-1.0x classifier latency against its references, with the speed goals' ratios.

    python benchmarks/ghostnet_latency.py [--threads 2] [--batch 1 8] [--size 224]
                                          [--rounds 9] [--repeats 20] [--no-timm] [--out-md F]

One run of the benchmark runner (:func:`mmghost.analysis.run_benchmark`, what
``tools/analysis_tools/benchmark_latency.py`` runs): every form of our GhostNetV3-1.0x
(training, deploy, the eager inference form, ONNX Runtime and OpenVINO in fp32 and INT8), our
GhostNetV2-1.0x, timm's ``ghostnetv3_100`` re-parameterized in the same forms (exported the
same way) and timm's ``ghostnetv2_100``, and a 2048^2 fp32 matmul for the FLOP floor, timed in
interleaved rounds (exported forms in a torch-free process), for each batch size. It prints the
runner's table and then each goal's ratio of medians (and of 10th percentiles, which noise
inflates less), computed from this run only:

* our deploy / training form <= 0.40; our deploy <= 0.97x GhostNetV2-1.0x (timm);
  our eager deploy <= 0.90x timm's re-parameterized ``ghostnetv3_100``; our ONNX Runtime
  export <= 0.95x timm's in ONNX Runtime;
* our best fp32 CPU path <= 0.70x timm's in its best runtime (ONNX Runtime or OpenVINO) and
  <= 3x the FLOP floor (2 x MACs at the matmul's rate); our best INT8 form faster than our
  best fp32 path.

Classifiers are timed whole (ImageNet head, 1000 classes) from random weights in eval mode.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
V3 = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'ghostnetv3.py')
V2 = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'ghostnetv2.py')
FP32_RUNTIMES = ('ort', 'openvino')
INT8_RUNTIMES = ('ort-int8', 'openvino-int8')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=9)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--no-timm', action='store_true', help='skip the timm references')
    parser.add_argument('--out-md', help='also write the tables to this markdown file')
    return parser.parse_args(argv)


def specs(with_timm: bool):
    out = [V3 + '@both', V3 + '@inference', V3 + '@exported', V2]
    if with_timm:
        out += ['timm:ghostnetv3_100@deploy', 'timm:ghostnetv3_100@inference',
                'timm:ghostnetv3_100@exported', 'timm:ghostnetv2_100']
    return out


def goal_lines(rows, batch: int):
    """The goals' ratios for one batch size (``| goal | medians | p10s | bound | verdict |``)."""
    from mmghost.analysis import goal_line, ok_rows
    ok = ok_rows(rows, batch)
    lines = []

    def best(model, forms):
        cands = [ok[(model, f)] for f in forms if (model, f) in ok]
        return min(cands, key=lambda r: r['median_ms']) if cands else None

    def ratio(what, num, den, bound):
        line = goal_line(what, num, den, bound, by_p10s_too=False)  # verdict of medians
        if line:
            lines.append(line)

    ours = lambda form: ok.get(('ghostnetv3', form))  # noqa: E731
    timm = lambda form: ok.get(('timm:ghostnetv3_100', form))  # noqa: E731
    ratio('ours deploy / ours training form', ours('deploy'), ours('train'), 0.40)
    ratio('ours inference form / ours training form', ours('inference'), ours('train'), 0.40)
    timm_v2 = ok.get(('timm:ghostnetv2_100', 'train'))
    ratio('ours deploy / timm ghostnetv2_100', ours('deploy'), timm_v2, 0.97)
    ratio('ours inference form / timm ghostnetv3_100 deploy', ours('inference'),
          timm('deploy'), 0.90)
    ratio('ours ONNX Runtime / timm ONNX Runtime', ours('ort'), timm('ort'), 0.95)
    ours_fp32 = best('ghostnetv3', ('deploy', 'inference') + FP32_RUNTIMES)
    timm_rt = best('timm:ghostnetv3_100', FP32_RUNTIMES)
    if ours_fp32 and timm_rt:
        ratio(f'ours best fp32 ({ours_fp32["form"]}) / timm best runtime ({timm_rt["form"]})',
              ours_fp32, timm_rt, 0.70)
    floor = ours_fp32 and ours_fp32.get('floor_ms')  # 2 x its MACs at the matmul's rate
    if floor:
        ratio(f'ours best fp32 ({ours_fp32["form"]}) / FLOP floor ({floor:.2f} ms)', ours_fp32,
              dict(median_ms=floor, p10_ms=floor), 3.0)
    ours_int8 = best('ghostnetv3', INT8_RUNTIMES)
    if ours_int8 and ours_fp32:
        ratio(f'ours best INT8 ({ours_int8["form"]}) / ours best fp32 ({ours_fp32["form"]})',
              ours_int8, ours_fp32, 1.0)
    timm_int8 = best('timm:ghostnetv3_100', INT8_RUNTIMES)
    if ours_int8 and timm_int8:
        ratio(f'ours best INT8 ({ours_int8["form"]}) / timm best INT8 ({timm_int8["form"]})',
              ours_int8, timm_int8, 1.0)
    return lines


def main(argv=None):
    args = parse_args(argv)
    from mmghost.analysis import GOAL_HEADER, emit, report, run_benchmark

    def log(msg):
        print(f'[ghostnet_latency] {msg}', file=sys.stderr, flush=True)

    rows = run_benchmark(specs(not args.no_timm), batches=args.batch,
                         shape=(args.size, args.size), device='cpu', threads=args.threads,
                         warmup=args.warmup, rounds=args.rounds, repeats=args.repeats, log=log,
                         flop_floor=True)
    out = [report(rows)]
    for batch in args.batch:
        out += [f'\nGoals, batch {batch} (ratios of this run):\n'] + GOAL_HEADER
        out += goal_lines(rows, batch)
    emit('\n'.join(out) + '\n', args.out_md)


if __name__ == '__main__':
    main()
