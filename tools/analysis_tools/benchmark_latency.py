"""Inference latency of several models, measured side by side in one process.

    python tools/analysis_tools/benchmark_latency.py MODEL [MODEL ...] [--shape H [W]]
        [--batch N [N ...]] [--dtype {fp32,fp16,bf16} [...]] [--device {auto,cpu,cuda}]
        [--channels-last] [--threads T] [--part {model,backbone,both}]
        [--warmup W] [--rounds R] [--repeats K] [--top1 NAME=VALUE ...]
        [--out-md FILE] [--out-json FILE] [--plot FILE.png]

MODEL is a config path, an ``mmdet::``/``mmpretrain::``/``mmghost::`` config name or
``timm:NAME`` (needs timm), optionally followed by a form:

* ``@deploy``: the re-parameterized form (``mmghost.switch_to_deploy``, which also calls
  mmpretrain's own ``switch_to_deploy`` of MobileOne/RepVGG; timm: ``reparameterize_model``);
* ``@both``: the training and the deploy form, as two rows;
* ``@inference``: the fastest eager form: deploy form, every BN after a conv folded into it,
  weights and input NHWC (``mmghost.optimize_for_inference``; timm models the same way);
* ``@ort``: the deploy form exported to ONNX (fp32, static shape) and run by ONNX Runtime
  with ``--threads`` intra-op threads and all graph optimizations; ``@ort-int8`` its INT8
  form (static, per-channel, :mod:`mmghost.quantize.post_training`); ``@openvino`` and
  ``@openvino-int8`` the same in OpenVINO; ``@exported`` all four. Detectors are exported
  whole (box decoding and NMS in the graph);
* ``@ncnn``: the deploy form converted by pnnx and run by ncnn (fp32, ``--threads``); a
  single-stage detector's graph ends at its head's raw maps, so this row leaves out the
  decoding and NMS that run after it.

Detectors are timed through ``predict`` (network + box decoding + NMS) on a random normalized
image; classifiers through their logits; timm models through their forward; ``--part
backbone`` times only ``model.backbone`` (timm: ``forward_features``). ``--dtype bf16``/``fp16``
convert model and input (no autocast); a dtype that fails on one trial call is reported as
``unsupported`` with the error. ``--channels-last`` puts model and input in NHWC.

The machine is noisy, so the rows of each table are timed in interleaved rounds (R rounds of
K timed calls each, after W warm-up calls; ``torch.cuda.synchronize`` around each call on a
GPU). One table per part and batch size gives each row's params and MACs (conv + linear, per
image at the input shape), median, spread (10th-90th percentile) and the ratio of its median
to the first row's; ``--flop-floor`` adds each row's ratio to the FLOP floor (``2 x MACs`` at
the rate of a 2048^2 fp32 matmul timed in the same run). ``--plot`` draws latency against
params, MACs and ImageNet top-1 (built-in paper / model-zoo numbers, ``--top1`` adds or
overrides).
"""
import argparse
import sys

import torch

from mmghost.analysis import (BenchmarkError, plot, report, resolve_device, run_benchmark,
                              write_json)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+',
                        help='CONFIG, mmdet::NAME or timm:NAME, optionally @deploy, @both, '
                        '@inference, @ort, @ort-int8, @openvino, @openvino-int8, @exported')
    parser.add_argument('--shape', type=int, nargs='+', default=[224], help='input H [W]')
    parser.add_argument('--batch', type=int, nargs='+', default=[1],
                        help='batch sizes (one table each)')
    parser.add_argument('--dtype', nargs='+', default=['fp32'], choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--device', default='auto', help='auto (cuda if available), cpu, cuda')
    parser.add_argument('--channels-last', action='store_true',
                        help='model and input in torch.channels_last (NHWC)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads and ONNX Runtime intra-op threads')
    parser.add_argument('--part', choices=['model', 'backbone', 'both'], default='model')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--top1', nargs='+', default=[], metavar='NAME=VALUE',
                        help='ImageNet top-1 for the plot, by row name or architecture')
    parser.add_argument('--flop-floor', action='store_true',
                        help='time a 2048^2 fp32 matmul too and give each row its ratio to '
                        'the FLOP floor')
    parser.add_argument('--out-md', help='write the tables to this markdown file')
    parser.add_argument('--out-json', help='write every row (with its timings) as JSON')
    parser.add_argument('--plot', help='latency vs params / MACs / top-1 plot (PNG)')
    return parser.parse_args(argv)


def parse_top1(items):
    top1 = {}
    for item in items:
        name, sep, value = item.rpartition('=')
        try:
            top1[name] = float(value)
        except ValueError:
            sep = ''
        if not sep or not name:
            raise BenchmarkError(f'--top1 {item!r}: use NAME=VALUE, e.g. ghostnetv3-1.0x=77.1')
    return top1


def main(argv=None):
    args = parse_args(argv)
    shape = (args.shape[0], args.shape[-1])
    parts = ['backbone', 'model'] if args.part == 'both' else [args.part]
    try:
        top1 = parse_top1(args.top1)
        device = resolve_device(args.device)
        rows = run_benchmark(args.models, parts, args.batch, args.dtype, shape, device,
                             args.channels_last, args.threads, args.warmup, args.rounds,
                             args.repeats, top1,
                             log=lambda msg: print(msg, file=sys.stderr, flush=True),
                             flop_floor=args.flop_floor)
    except BenchmarkError as e:
        raise SystemExit(f'benchmark_latency: {e}')
    threads = torch.get_num_threads()
    header = (f'torch {torch.__version__}, device {device}, {threads} threads, '
              f'input {shape[0]}x{shape[1]}, {args.rounds} rounds x {args.repeats} calls '
              f'after {args.warmup} warm-up' + (', channels_last' if args.channels_last else ''))
    text = report(rows, header)
    print(text, end='')
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(text)
    if args.out_json:
        meta = dict(torch=torch.__version__, device=device, threads=threads, shape=list(shape),
                    batch=args.batch, dtype=args.dtype, channels_last=args.channels_last,
                    warmup=args.warmup, rounds=args.rounds, repeats=args.repeats,
                    models=args.models, part=args.part)
        write_json(rows, args.out_json, meta)
    if args.plot:
        plot(rows, args.plot, title=f'{device}, {threads} threads, input {shape[0]}x{shape[1]}')


if __name__ == '__main__':
    main()
