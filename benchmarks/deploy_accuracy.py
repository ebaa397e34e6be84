"""What deployment costs in accuracy and buys in speed, on the demos' trained models, in one run.

    python benchmarks/deploy_accuracy.py [--det-checkpoint CKPT] [--cls-checkpoint CKPT]
        [--det-config CONFIG] [--cls-config CONFIG] [--calib 32] [--threads 2]
        [--int8 ROUTE:METHOD:GROUPS ...] [--work-dir work_dirs/deploy_accuracy]
        [--out-md FILE] [--rounds 5] [--repeats 10]

For the main job's RetinaNet-GhostNetV3 (COCO bbox mAP on the demo val split) and the digits
demo's GhostNetV3-Small (top-1 on its held-out split), each given by its checkpoint, this runs
the tools a user runs, each in a fresh process:

1. ``tools/test.py CONFIG CKPT``: the PyTorch model's metric;
2. ``tools/deployment/pytorch2onnx.py`` (fp32 ONNX + OpenVINO IR), then
   ``tools/deployment/test_deployed.py FILE --compare CKPT`` in ONNX Runtime and OpenVINO:
   the metric, and how many images give the same predictions as PyTorch (detections above the
   score threshold with boxes within 1e-3 relative, or the top-1 class);
3. ``tools/deployment/quantize.py`` for each INT8 choice (ONNX Runtime's QDQ quantizer with
   min/max or percentile calibration, or NNCF's OpenVINO route; which layer groups stay in
   float), calibrated on the first ``--calib`` train images, and ``test_deployed.py`` again;
4. the latency of every exported file at the demo's input size, batch 1, timed side by side in
   interleaved rounds in one torch-free process
   (:func:`mmghost.analysis.time_exported_in_subprocess`), with each row's ratio to the fp32
   ONNX Runtime row.

Prints markdown tables (also written to ``--out-md``) headed by the date and versions.
"""
import argparse
import datetime
import os
import os.path as osp
import platform
import re
import statistics
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_CONFIG = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')
CLS_CONFIG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_digits-demo.py')
# Layer groups kept in float, tried for each quantizer (mmghost.quantize.LAYER_GROUPS).
KEEP_FLOAT_CHOICES = ((), ('first_conv', 'head_outputs'),
                      ('first_conv', 'head_outputs', 'dfc'),
                      ('first_conv', 'head_outputs', 'dfc', 'depthwise'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--det-config', default=DET_CONFIG)
    parser.add_argument('--det-checkpoint', help='the main job\'s checkpoint (default: '
                        'work_dirs/main_job/<last_checkpoint>)')
    parser.add_argument('--cls-config', default=CLS_CONFIG)
    parser.add_argument('--cls-checkpoint', help='the digits demo\'s checkpoint (default: '
                        'work_dirs/digits/<last_checkpoint>)')
    parser.add_argument('--calib', type=int, default=32, help='calibration images')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'deploy_accuracy'))
    parser.add_argument('--out-md', help='also write the tables to this markdown file')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--int8', nargs='+', metavar='ROUTE:METHOD:GROUPS',
                        help='INT8 forms to measure, e.g. onnxruntime:percentile:first_conv+'
                        'head_outputs or openvino:nncf:none (default: every float-group '
                        'choice with minmax and percentile, and NNCF with two)')
    return parser.parse_args(argv)


def last_checkpoint(work_dir: str):
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    path = open(marker).read().strip()
    return path if osp.isabs(path) else osp.join(work_dir, osp.basename(path))


def tool(script: str, *args, log) -> str:
    """Run one of mmghost's tools in a fresh process (as a user runs it); its output."""
    cmd = [sys.executable, osp.join(REPO, 'tools', *script.split('/'))] + [str(a) for a in args]
    log(' '.join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f'{script} failed ({proc.returncode}):\n{out[-3000:]}')
    return out


def metric_of(out: str, metric: str) -> float:
    return float(re.findall(rf'{re.escape(metric)}: ([-\d.]+)', out)[-1])


def comparison_of(out: str) -> dict:
    """``--compare``'s line: ``N of M images give the same ... (boxes within X relative)``."""
    m = re.search(r'against PyTorch .*?: (\d+) of (\d+) images give the same[^(\n]*'
                  r'(?:\(boxes within ([\d.e+-]+) relative\))?', out)
    return dict(same=int(m.group(1)), images=int(m.group(2)),
                max_box_rel_diff=float(m.group(3)) if m.group(3) else None)


def input_shape(config: str):
    """``(H, W)`` the config's pre-processing makes of its first test image."""
    from mmghost.quantize import calibration_batches
    return tuple(calibration_batches(config, 1, split='test')[0].shape[2:])


def int8_variants(task: str, args):
    """``(route, method, float groups)`` of each INT8 form to measure."""
    if args.int8:
        out = []
        for spec in args.int8:
            route, method, groups = spec.split(':')
            out.append((route, method, () if groups == 'none' else tuple(groups.split('+'))))
        return out
    return [('onnxruntime', method, groups) for groups in KEEP_FLOAT_CHOICES
            for method in ('minmax', 'percentile')] + \
        [('openvino', 'nncf', groups) for groups in ((), ('first_conv', 'head_outputs'))]


def evaluate(task: str, config: str, checkpoint: str, args, log) -> dict:
    """Every form of one model: metrics, differing images, exported files (see the docstring)."""
    metric = 'coco/bbox_mAP' if task == 'detector' else 'accuracy/top1'
    work = osp.abspath(osp.join(args.work_dir, task))
    os.makedirs(work, exist_ok=True)
    shape = input_shape(config)
    rows, files = [], {}

    def add(form, backend, path, keep=None):
        out = tool('deployment/test_deployed.py', config, path, '--backend', backend,
                   '--threads', args.threads, '--compare', checkpoint, '--max-differing',
                   '100000', '--work-dir', osp.join(work, 'runs'), log=log)
        rows.append(dict(form=form, backend=backend, keep_float=keep,
                         metric=metric_of(out, metric), path=path, **comparison_of(out)))
        files[form] = (backend, path, [1, 3, *shape])

    reference = metric_of(tool('test.py', config, checkpoint, '--work-dir',
                               osp.join(work, 'runs'), log=log), metric)
    onnx_path, xml_path = osp.join(work, 'fp32.onnx'), osp.join(work, 'fp32.xml')
    tool('deployment/pytorch2onnx.py', config, checkpoint, onnx_path, '--shape', *shape,
         *(['--dynamic-hw', '--check-shapes', f'{shape[0]},{shape[1]}']
           if task == 'detector' else []), '--openvino', xml_path, log=log)
    add('fp32 ONNX Runtime', 'onnxruntime', onnx_path)
    add('fp32 OpenVINO', 'openvino', xml_path)
    for route, method, keep in int8_variants(task, args):
        name = '+'.join(keep) or 'none'
        suffix = '.xml' if route == 'openvino' else '.onnx'
        out = osp.join(work, f'int8-{method}-{name}{suffix}')
        extra = [] if route == 'openvino' else ['--method', method]
        tool('deployment/quantize.py', config, onnx_path, out, '--backend', route,
             '--num-images', args.calib, '--keep-float', *keep, *extra, log=log)
        label = 'NNCF (OpenVINO IR)' if route == 'openvino' else f'ONNX Runtime QDQ, {method}'
        add(f'INT8 {label}, float: {name}', route, out, keep)
    return dict(task=task, metric=metric, reference=reference, rows=rows, files=files,
                shape=shape, calibration=args.calib)


def time_files(results, args, log) -> None:
    """Each exported file's latency (batch 1), all files of a model interleaved in one run."""
    from mmghost.analysis import time_exported_in_subprocess
    for res in results:
        log(f'{res["task"]}: timing {len(res["files"])} exported files')
        times = time_exported_in_subprocess(res['files'], args.threads, 5, args.rounds,
                                            args.repeats)
        ref = statistics.median(times['fp32 ONNX Runtime'])
        for row in res['rows']:
            row['median_ms'] = statistics.median(times[row['form']])
            row['ratio'] = row['median_ms'] / ref


def markdown(results, args) -> str:
    import onnxruntime
    import openvino
    import torch
    head = (f'Measured {datetime.date.today().isoformat()} with `python benchmarks/'
            f'deploy_accuracy.py` ({platform.processor() or platform.machine()}, '
            f'{args.threads} threads; torch {torch.__version__}, onnxruntime '
            f'{onnxruntime.__version__}, openvino {openvino.__version__}).\n')
    out = [head]
    for res in results:
        unit = 'bbox mAP' if res['task'] == 'detector' else 'top-1 (%)'
        what = 'detections above the score threshold' if res['task'] == 'detector' else \
            'top-1 class'
        out.append(f'\n{res["task"]} `{osp.basename(res["config"])}`, input '
                   f'{res["shape"][0]}x{res["shape"][1]}, INT8 calibrated on '
                   f'{res["calibration"]} train images; PyTorch {unit}: '
                   f'**{res["reference"]:.{3 if res["task"] == "detector" else 2}f}**\n')
        out.append(f'| form | {unit} | vs PyTorch | images with the same {what} | '
                   f'median ms (batch 1) | vs fp32 ONNX Runtime |')
        out.append('|---|---|---|---|---|---|')
        digits = 3 if res['task'] == 'detector' else 2
        for r in res['rows']:
            out.append(f'| {r["form"]} | {r["metric"]:.{digits}f} | '
                       f'{r["metric"] - res["reference"]:+.{digits}f} | {r["same"]} of '
                       f'{r["images"]} | {r.get("median_ms", float("nan")):.2f} | '
                       f'{r.get("ratio", float("nan")):.2f} |')
    return '\n'.join(out) + '\n'


def main(argv=None):
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)

    def log(msg):
        print(f'[deploy_accuracy] {msg}', file=sys.stderr, flush=True)

    jobs = []
    det = args.det_checkpoint or last_checkpoint(osp.join('work_dirs', 'main_job'))
    cls = args.cls_checkpoint or last_checkpoint(osp.join('work_dirs', 'digits'))
    for task, config, ckpt in (('detector', args.det_config, det),
                               ('classifier', args.cls_config, cls)):
        if ckpt is None:
            log(f'no {task} checkpoint: skipped (pass --{task[:3]}-checkpoint)')
        else:
            jobs.append((task, config, ckpt))
    if not jobs:
        raise SystemExit('nothing to measure: train the demos first (README)')
    results = []
    for task, config, ckpt in jobs:
        res = evaluate(task, config, ckpt, args, log)
        res['config'] = config
        results.append(res)
    time_files(results, args, log)
    text = markdown(results, args)
    print(text)
    if args.out_md:
        from mmghost.checkpoint.atomic import atomic_write
        atomic_write(args.out_md, text.encode())


if __name__ == '__main__':
    main()
