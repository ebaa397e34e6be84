"""GhostNetV3-1.0x inference latency against its references and peers, side by side.

    python benchmarks/ghostnet_latency.py [--threads 2] [--batch 1] [--size 224]
                                          [--rounds 9] [--repeats 20] [--no-timm] [--no-ort]

One run times the candidates in interleaved rounds (the machine is noisy, so drifts hit all
alike; ONNX Runtime candidates in a separate process without torch, whose spinning OpenMP
threads slow ONNX Runtime down) and prints medians, 10th-90th percentiles and the ratios
behind the project's speed goals (of medians, and of 10th percentiles, which noise inflates
less), each computed from this run only:

* GhostNetV3 deploy / GhostNetV3 training form (goal <= 0.40);
* GhostNetV3 deploy / GhostNetV2-1.0x (goal <= 0.97);
* our eager deploy / timm's re-parameterized ``ghostnetv3_100`` (goal <= 0.90);
* our ONNX Runtime export / ONNX Runtime running timm's deploy model (goal <= 0.95), and
  against the FLOP floor: 2 x MACs at the matmul rate of a 2048^2 fp32 matmul timed in the
  same run (goal <= 2x).

"Ours, eager" is the shipped inference path, :func:`mmghost.optimize_for_inference` with
NHWC weights and input (BN folded); plain ``switch_to_deploy`` in NCHW is listed too, and so
is timm's deploy model in NHWC, so each effect can be read separately. The ONNX models are
exported by the same exporter (opset 17, static shape), checked against PyTorch, and run
with the same session options; ours is what ``tools/deployment/pytorch2onnx.py`` writes.
Classifiers are timed whole (ImageNet head, 1000 classes), from random weights in eval mode.
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
import warnings
from typing import Callable, Dict, Optional

import torch

CONFIGS = 'configs/classification/_base_/models/'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=9)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--no-timm', action='store_true', help='skip the timm references')
    parser.add_argument('--no-ort', action='store_true', help='skip ONNX Runtime')
    return parser.parse_args()


def build_ours(name: str) -> torch.nn.Module:
    from mmghost.models.utils import build_from_config, load_config
    root = osp.join(osp.dirname(osp.abspath(__file__)), '..')
    return build_from_config(load_config(osp.join(root, CONFIGS, name)))


def export_for_ort(model: torch.nn.Module, x: torch.Tensor, tmpdir: str, name: str) -> str:
    """Export ``model`` at ``x``'s static shape with the project's exporter (what
    tools/deployment/pytorch2onnx.py writes; timm models as they are called), check ONNX
    Runtime against PyTorch, return the file."""
    from mmghost.deploy import check_onnx, export_onnx
    path = osp.join(tmpdir, name + '.onnx')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        export_onnx(model, path, tuple(x.shape[-2:]), dynamic_batch=False,
                    batch_size=x.shape[0])
    check_onnx(path, model, x, rtol=1e-4, num_threads=1)
    return path


def main():
    args = parse_args()
    from mmghost import optimize_for_inference, switch_to_deploy
    from mmghost.analysis import count_complexity, percentile, time_interleaved
    torch.set_num_threads(args.threads)
    cl = torch.channels_last
    x = torch.randn(args.batch, 3, args.size, args.size)
    x_cl = x.contiguous(memory_format=cl)

    v3 = build_ours('ghostnetv3.py')
    v3_deploy = switch_to_deploy(copy.deepcopy(v3))
    v3_fast = optimize_for_inference(copy.deepcopy(v3), channels_last=True)
    v2 = build_ours('ghostnetv2.py')
    macs = count_complexity(v3_deploy, (args.size, args.size))['macs']

    def logits(m, inp):
        return lambda: m(inp, mode='tensor')

    calls: Dict[str, Callable[[], object]] = {
        'ours V3 training form': logits(v3, x),
        'ours V3 deploy (NCHW)': logits(v3_deploy, x),
        'ours V3 eager (inference form, NHWC)': logits(v3_fast, x_cl),
        'ours V2 1.0x': logits(v2, x),
    }
    timm = None
    if not args.no_timm:
        try:
            import timm
        except ImportError:
            print('timm is not installed: no timm references')
    if timm is not None:
        from timm.utils import reparameterize_model
        t_v3 = timm.create_model('ghostnetv3_100').eval()
        t_v3d = reparameterize_model(copy.deepcopy(t_v3)).eval()
        t_v3d_cl = copy.deepcopy(t_v3d).to(memory_format=cl)
        t_v2 = timm.create_model('ghostnetv2_100').eval()
        t_rep = reparameterize_model(timm.create_model('repghostnet_100').eval()).eval()
        t_mbv3 = timm.create_model('mobilenetv3_large_100').eval()
        calls.update({
            'timm ghostnetv3_100 training form': lambda: t_v3(x),
            'timm ghostnetv3_100 deploy (NCHW)': lambda: t_v3d(x),
            'timm ghostnetv3_100 deploy (NHWC)': lambda: t_v3d_cl(x_cl),
            'timm ghostnetv2_100': lambda: t_v2(x),
            'timm repghostnet_100 deploy': lambda: t_rep(x),
            'timm mobilenetv3_large_100': lambda: t_mbv3(x),
        })
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    calls['matmul 2048^2 fp32'] = lambda: torch.mm(a, b)
    # ONNX Runtime candidates are timed in a fresh process without torch, whose spinning
    # OpenMP threads would slow ORT down (mmghost.analysis.exported_timing); each group is
    # interleaved.
    onnx_files: Dict[str, str] = {}
    tmp = tempfile.TemporaryDirectory()
    if not args.no_ort:
        with torch.no_grad():
            onnx_files['ours V3 ONNX Runtime'] = export_for_ort(v3, x, tmp.name, 'ours')
            if timm is not None:
                onnx_files['timm ghostnetv3_100 deploy, ONNX Runtime'] = export_for_ort(
                    t_v3d, x, tmp.name, 'timm')

    times = time_interleaved(calls, args.warmup, args.rounds, args.repeats)
    if onnx_files:
        from mmghost.analysis import time_exported_in_subprocess
        times.update(time_exported_in_subprocess(onnx_files, args.threads, args.warmup,
                                                 args.rounds, args.repeats))
    med = {k: statistics.median(v) for k, v in times.items()}
    gflops = 2 * 2048**3 / (med['matmul 2048^2 fp32'] * 1e6)
    floor = 2 * macs * args.batch / (gflops * 1e6)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, '
          f'{args.size}x{args.size}, fp32, {args.rounds} rounds x {args.repeats} calls; '
          f'matmul {gflops:.0f} GFLOP/s -> floor for {2 * macs / 1e6:.0f} MFLOP: '
          f'{floor:.2f} ms\n')
    print('| model | median ms | p10-p90 ms |\n|---|---|---|')
    for k, v in times.items():
        print(f'| {k} | {med[k]:.2f} | {percentile(v, 0.1):.2f}-{percentile(v, 0.9):.2f} |')

    p10 = {k: percentile(v, 0.1) for k, v in times.items()}

    def ratio(num: str, den: str, goal: float, what: str) -> Optional[float]:
        if num not in med or den not in med:
            return None
        r = med[num] / med[den]
        print(f'| {what} | {r:.2f} | {p10[num] / p10[den]:.2f} | <= {goal:.2f} | '
              f'{"met" if r <= goal else "NOT met"} |')
        return r

    deploy = 'ours V3 deploy (NCHW)'
    fast = 'ours V3 eager (inference form, NHWC)'
    print('\n| ratio | of medians | of p10s | goal (medians) | |\n|---|---|---|---|---|')
    ratio(deploy, 'ours V3 training form', 0.40, 'ours V3 deploy / ours V3 training form')
    ratio(fast, 'ours V3 training form', 0.40, 'ours V3 eager / ours V3 training form')
    ratio(deploy, 'timm ghostnetv2_100', 0.97, 'ours V3 deploy (NCHW) / timm ghostnetv2_100')
    ratio(fast, 'timm ghostnetv2_100', 0.97, 'ours V3 eager / timm ghostnetv2_100')
    ratio(fast, 'ours V2 1.0x', 0.97, 'ours V3 eager / ours V2 1.0x')
    ratio(deploy, 'timm ghostnetv3_100 deploy (NCHW)', 0.90,
          'ours V3 deploy (NCHW) / timm V3 deploy (NCHW)')
    ratio(fast, 'timm ghostnetv3_100 deploy (NCHW)', 0.90, 'ours V3 eager / timm V3 deploy')
    ratio(fast, 'timm ghostnetv3_100 deploy (NHWC)', 0.90,
          'ours V3 eager / timm V3 deploy in NHWC')
    ratio('ours V3 ONNX Runtime', 'timm ghostnetv3_100 deploy, ONNX Runtime', 0.95,
          'ours ORT / timm deploy ORT')
    if 'ours V3 ONNX Runtime' in med:
        r = med['ours V3 ONNX Runtime'] / floor
        print(f'| ours ORT / FLOP floor | {r:.2f} | {p10["ours V3 ONNX Runtime"] / floor:.2f} | '
              f'<= 2.00 | {"met" if r <= 2 else "NOT met"} |')
    tmp.cleanup()


if __name__ == '__main__':
    main()
