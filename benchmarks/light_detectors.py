"""GhostNet light detectors against mmdet's mobile detectors: params, MACs, the backbone's share
of them, and latency in every runtime, timed side by side in one run.

    python benchmarks/light_detectors.py [--sizes 320 416] [--batch 1 8] [--threads 2]
        [--forms deploy ort ort-int8 openvino openvino-int8 ncnn] [--only NAME ...]
        [--rounds 5] [--repeats 10] [--out-md FILE]

Each detector is built from its config with random weights (the speed of a network does not
depend on its weights; INT8 rows are calibrated on seeded random batches) and timed by the
benchmark runner (:func:`mmghost.analysis.run_benchmark`): eager deploy form (``predict``:
network, decoding, NMS), ONNX Runtime and OpenVINO fp32 / INT8 (the whole detector, decoding and
NMS in the graph) and ncnn (the network up to the head's raw maps; decoding and NMS follow in
Python and are not in that row), at each ``--sizes`` square input, batch sizes ``--batch``,
``--threads`` threads, plus the FLOP floor of the same run (a large matmul's rate). The backbone
rows give each detector's backbone MACs; the goals are ratios of medians of this one run:

* a GhostNet light detector at <= 0.85x the time of its mmdet counterpart, in the same runtime
  (SSDLite-GhostNetV3 vs SSDLite-MobileNetV2; RTMDet with GhostNetV3, with CSPNeXtPAFPN and with
  GhostPAFPN, vs RTMDet-tiny);
* the backbone at >= 40% of the detector's MACs (deploy form).

Accuracy: ``--train-demo DIR`` first trains every selected detector from scratch on the demo
set (``python -m mmghost.datasets.demo_coco``, the main job's data) with one schedule and seed
(:func:`mmghost.engine.demo_detection_config`: ``--demo-size`` px, ``--epochs``),
each through ``tools/train.py`` on its dumped config ``DIR/NAME/demo.py``, and writes the val
split's COCO bbox mAP and the training time to ``DIR/demo_results.json`` (after each detector,
so a stopped run keeps what it finished). ``--demo-results FILE`` reads such a file instead of
training. Either way the tables gain the demo mAP, and each speed goal is checked "at equal or
higher demo mAP" as well. ``--sizes`` with no value skips the timing.

``--deploy-demo`` (with ``--train-demo DIR``, or ``--demo-results DIR/demo_results.json``)
takes each trained checkpoint through the user's tools at the demo size: ``pytorch2onnx.py``
(ONNX and OpenVINO IR), ``quantize.py`` (ONNX Runtime QDQ and OpenVINO NNCF INT8, calibrated on
the demo train split) and ``test_deployed.py`` on the val split, and adds each runtime's bbox
mAP to ``demo_results.json`` and the table, with the INT8 goal: at most 0.01 mAP below PyTorch.
"""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET = osp.join(REPO, 'configs', 'detection')

#: name -> (config, its mmdet counterpart's name or None)
DETECTORS = {
    'ssdlite-ghostnetv3': (osp.join(DET, 'ssdlite_ghostv3_320.py'), 'ssdlite-mobilenetv2'),
    'ssdlite-repghost': (osp.join(DET, 'ssdlite_repghost_320.py'), 'ssdlite-mobilenetv2'),
    'ssdlite-ghostnet': (osp.join(DET, 'ssdlite_ghostnet_320.py'), 'ssdlite-mobilenetv2'),
    'rtmdet-tiny-ghostnetv3': (osp.join(DET, 'rtmdet-tiny_ghostv3.py'), 'rtmdet-tiny'),
    'rtmdet-tiny-ghostnetv3-ghostpafpn': (osp.join(DET, 'rtmdet-tiny_ghostv3-ghostpafpn.py'),
                                          'rtmdet-tiny'),
    'rtmdet-tiny-repghost-ghostpafpn': (osp.join(DET, 'rtmdet-tiny_repghost-ghostpafpn.py'),
                                        'rtmdet-tiny'),
    'rtmdet-tiny-ghostnet-ghostpafpn': (osp.join(DET, 'rtmdet-tiny_ghostnet-ghostpafpn.py'),
                                        'rtmdet-tiny'),
    'ssdlite-mobilenetv2': ('mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py', None),
    'rtmdet-tiny': ('mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py', None),
    'yolox-tiny': ('mmdet::yolox/yolox_tiny_8xb8-300e_coco.py', None),
}
FORMS = ('deploy', 'ort', 'ort-int8', 'openvino', 'openvino-int8', 'ncnn')
MAC_SHARE_GOAL, SPEED_GOAL, INT8_GOAL = 0.40, 0.85, 0.01
#: --deploy-demo: runtime -> (model file under the run dir, test_deployed.py backend)
DEPLOYED = {'ort': ('end2end.onnx', 'onnxruntime'), 'openvino': ('end2end.xml', 'openvino'),
            'ort-int8': ('end2end-int8.onnx', 'onnxruntime'),
            'openvino-int8': ('end2end-int8.xml', 'openvino')}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='*', default=[320, 416])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--forms', nargs='+', default=list(FORMS), choices=FORMS)
    parser.add_argument('--only', nargs='+', choices=sorted(DETECTORS),
                        help='these detectors (and their counterparts) only')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--out-md', help='also write the tables to this markdown file')
    demo = parser.add_mutually_exclusive_group()
    demo.add_argument('--train-demo', metavar='DIR',
                      help='train each detector on the demo set first (work dirs under DIR)')
    demo.add_argument('--demo-results', metavar='FILE',
                      help='demo_results.json of an earlier --train-demo run')
    parser.add_argument('--demo-size', type=int, default=128,
                        help='training and test input of --train-demo (the demo pictures '
                        'are 128 px)')
    parser.add_argument('--epochs', type=int, default=24, help='epochs of --train-demo')
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'demo_coco'))
    parser.add_argument('--deploy-demo', action='store_true',
                        help='export, quantize and evaluate each trained demo checkpoint in '
                        'ONNX Runtime and OpenVINO, fp32 and INT8')
    args = parser.parse_args(argv)
    if args.deploy_demo and not (args.train_demo or args.demo_results):
        parser.error('--deploy-demo needs the trained checkpoints: pass --train-demo DIR or '
                     '--demo-results DIR/demo_results.json')
    return args


def selected(only):
    names = list(only or DETECTORS)
    names += [DETECTORS[n][1] for n in names if DETECTORS[n][1] and DETECTORS[n][1] not in names]
    return [n for n in DETECTORS if n in names]  # table order


def goal_lines(rows, names, batch: int):
    """``| goal | ratio | bound | verdict |`` for one batch size of one input size."""
    ok = {(r['model'], r['form'], r['part']): r for r in rows
          if r['batch'] == batch and r['status'] == 'ok'}
    label = {n: _label(DETECTORS[n][0]) for n in names}
    lines = []
    for n in names:
        model = ok.get((label[n], 'deploy', 'model'))
        backbone = ok.get((label[n], 'deploy', 'backbone'))
        if model and backbone and model.get('macs') and backbone.get('macs'):
            share = backbone['macs'] / model['macs']
            lines.append(f'| {n}: backbone share of MACs | {share:.0%} | >= '
                         f'{MAC_SHARE_GOAL:.0%} | '
                         f'{"met" if share >= MAC_SHARE_GOAL else "not met"} |')
    for n in names:
        other = DETECTORS[n][1]
        if other not in names:
            continue
        for form in FORMS:
            a = ok.get((label[n], form, 'model'))
            b = ok.get((label[other], form, 'model'))
            if a and b:
                r = a['median_ms'] / b['median_ms']
                lines.append(f'| {n} / {other}, {form} | {r:.2f} | <= {SPEED_GOAL:.2f} | '
                             f'{"met" if r <= SPEED_GOAL else "not met"} |')
    return lines


def demo_lines(demo, names):
    """The demo-accuracy table and the goals' "equal or higher demo mAP" lines."""
    lines = ['| detector | demo bbox mAP | mAP@0.5 | training | epochs, input |',
             '|---|---|---|---|---|']
    for n in names:
        r = demo.get(n)
        if r:
            lines.append(f'| {n} | {r["bbox_mAP"]:.3f} | {r["bbox_mAP_50"]:.3f} | '
                         f'{r["train_s"] / 60:.1f} min | {r["epochs"]}, {r["size"]}² |')
        else:
            lines.append(f'| {n} | not trained | | | |')
    lines += ['', '| goal | GhostNet | counterpart | |', '|---|---|---|---|']
    for n in names:
        other = DETECTORS[n][1]
        if other in names and n in demo and other in demo:
            a, b = demo[n]['bbox_mAP'], demo[other]['bbox_mAP']
            lines.append(f'| {n} demo mAP >= {other} | {a:.3f} | {b:.3f} | '
                         f'{"met" if a >= b else "not met"} |')
    return lines


def deployed_lines(demo, names):
    """bbox mAP of the trained demo checkpoints in each runtime, and the INT8 goal."""
    lines = ['| detector | PyTorch | ORT | OpenVINO | ORT INT8 | OpenVINO INT8 |',
             '|---|---|---|---|---|---|']
    goals = ['', '| goal | PyTorch | INT8 | lost | |', '|---|---|---|---|---|']
    for n in names:
        d = demo.get(n, {}).get('deployed')
        if not d:
            continue
        ref = demo[n]['bbox_mAP']
        lines.append(f'| {n} | {ref:.3f} | ' + ' | '.join(
            f'{d[k]:.3f}' + (f' ({d[k] - ref:+.3f})' if 'int8' in k else '')
            for k in DEPLOYED) + ' |')
        for k in ('ort-int8', 'openvino-int8'):
            lost = round(ref - d[k], 3)  # CocoMetric's mAPs have 3 decimals
            goals.append(f'| {n} {k} loses <= {INT8_GOAL} mAP | {ref:.3f} | {d[k]:.3f} | '
                         f'{lost:.3f} | {"met" if lost <= INT8_GOAL else "not met"} |')
    return lines + goals if len(lines) > 2 else []


def deploy_demo(names, work_dir, demo, log):
    """Export, quantize and test each trained demo checkpoint with the tools; adds
    ``deployed`` (runtime -> val bbox mAP) to ``demo`` and rewrites demo_results.json."""
    from mmghost.checkpoint.atomic import atomic_write
    tools = osp.join(REPO, 'tools', 'deployment')

    def tool(name, *argv):
        subprocess.run([sys.executable, osp.join(tools, name)] + [str(a) for a in argv],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)

    for n in names:
        run_dir, r = osp.join(work_dir, n), demo.get(n)
        if not r or r.get('deployed'):
            log(f'{n}: ' + ('kept the earlier deployed mAPs' if r else 'not trained, skipped'))
            continue
        config = osp.join(run_dir, 'demo.py')
        ckpt = osp.join(run_dir, f'epoch_{r["epochs"]}.pth')
        files = {k: osp.join(run_dir, f) for k, (f, _) in DEPLOYED.items()}
        log(f'{n}: exporting, quantizing and testing at {r["size"]}x{r["size"]}')
        tool('pytorch2onnx.py', config, ckpt, files['ort'], '--shape', r['size'],
             '--openvino', files['openvino'])
        tool('quantize.py', config, files['ort'], files['ort-int8'])
        tool('quantize.py', config, files['ort'], files['openvino-int8'], '--backend',
             'openvino')
        deployed = {}
        for k, (_, backend) in DEPLOYED.items():
            test_dir = osp.join(run_dir, 'test_' + k)
            tool('test_deployed.py', config, files[k], '--backend', backend, '--work-dir',
                 test_dir)
            deployed[k] = _test_metrics(test_dir)['coco/bbox_mAP']
        r['deployed'] = deployed
        log(f'{n}: PyTorch {r["bbox_mAP"]:.3f}, ' +
            ', '.join(f'{k} {v:.3f}' for k, v in deployed.items()))
        atomic_write(osp.join(work_dir, 'demo_results.json'), json.dumps(demo, indent=1).encode())
    return demo


def _test_metrics(test_dir):
    """The metrics the last test run under ``test_dir`` logged (mmengine's ``TIMESTAMP.json``),
    mAP 0 when it gave no box above the score threshold."""
    for run in sorted(glob.glob(osp.join(test_dir, '2*')), reverse=True):
        logged = glob.glob(osp.join(run, '*.json'))
        if logged:
            with open(logged[0]) as f:
                metrics = json.loads(f.readlines()[-1])
            if 'coco/bbox_mAP' in metrics:
                return metrics
        log = glob.glob(osp.join(run, '*.log'))
        if log and 'results of the whole dataset is empty' in open(log[0]).read():
            return {'coco/bbox_mAP': 0.0}
    raise RuntimeError(f'{test_dir}: the test logged no metrics (see its log)')


def train_demo(names, work_dir, data_root, size, epochs, log):
    """Train each detector on the demo set through tools/train.py; returns and writes
    ``work_dir/demo_results.json`` (name -> mAPs, training seconds, schedule)."""
    from mmghost.checkpoint.atomic import atomic_write
    from mmghost.datasets.demo_coco import make_demo_coco
    from mmghost.engine.demo_training import demo_detection_config
    if not osp.isfile(osp.join(data_root, 'annotations', 'instances_val.json')):
        log(f'writing the demo set to {data_root}')
        make_demo_coco(data_root)
    out = osp.join(work_dir, 'demo_results.json')
    results = {}
    if osp.isfile(out):
        with open(out) as f:
            results = json.load(f)
    for n in names:
        done = results.get(n, {})
        if done.get('size') == size and done.get('epochs') == epochs:
            log(f'{n}: kept the earlier result in {out}')
            continue
        run_dir = osp.join(work_dir, n)
        os.makedirs(run_dir, exist_ok=True)
        config = osp.join(run_dir, 'demo.py')
        demo_detection_config(DETECTORS[n][0], data_root=data_root, size=size,
                              epochs=epochs).dump(config)
        log(f'{n}: training {epochs} epochs at {size}x{size} ({config})')
        start = time.time()
        subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
                        '--work-dir', run_dir], check=True, stdout=subprocess.DEVNULL)
        seconds = time.time() - start
        metrics = _last_val_metrics(run_dir)
        results[n] = dict(bbox_mAP=metrics['coco/bbox_mAP'],
                          bbox_mAP_50=metrics['coco/bbox_mAP_50'], train_s=round(seconds),
                          epochs=epochs, size=size, date=str(datetime.date.today()))
        log(f'{n}: bbox mAP {results[n]["bbox_mAP"]:.3f} after {seconds / 60:.1f} min')
        atomic_write(out, json.dumps(results, indent=1).encode())
    return results


def _last_val_metrics(run_dir):
    """The last validation metrics mmengine logged under ``run_dir`` (mAP 0 when the detector
    gave no box above its score threshold, which mmdet's CocoMetric logs as an error)."""
    for run in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data')), reverse=True):
        scalars = osp.join(run, 'scalars.json')
        rows = []
        if osp.isfile(scalars):
            with open(scalars) as f:
                rows = [json.loads(line) for line in f if 'coco/bbox_mAP' in line]
        if rows:
            return rows[-1]
        log = glob.glob(osp.join(osp.dirname(run), '*.log'))
        if log and 'results of the whole dataset is empty' in open(log[0]).read():
            return {'coco/bbox_mAP': 0.0, 'coco/bbox_mAP_50': 0.0}
    raise RuntimeError(f'{run_dir}: the training logged no COCO bbox mAP (see its log)')


def _label(config: str) -> str:
    from mmghost.analysis import model_label
    return model_label(config)


def main(argv=None):
    args = parse_args(argv)
    import mmdet
    import torch

    from mmghost.analysis import report, run_benchmark
    from mmghost.version import __version__

    def log(msg):
        print(f'[light_detectors] {msg}', file=sys.stderr, flush=True)

    names = selected(args.only)
    demo = {}
    if args.train_demo:
        demo = train_demo(names, args.train_demo, args.data_root, args.demo_size,
                          args.epochs, log)
    elif args.demo_results:
        with open(args.demo_results) as f:
            demo = json.load(f)
    if args.deploy_demo:
        demo = deploy_demo(names, args.train_demo or osp.dirname(args.demo_results), demo, log)
    specs = [f'{DETECTORS[n][0]}@{form}' for n in names for form in args.forms]
    out = [f'Measured {datetime.date.today()} on {platform.processor() or platform.machine()}, '
           f'{args.threads} threads: mmghost {__version__}, torch {torch.__version__}, '
           f'mmdet {mmdet.__version__}. Rows: {", ".join(names)}.']
    if demo:
        out += ['\n## Demo-set accuracy (one schedule and seed, trained from scratch)\n']
        out += demo_lines(demo, names)
        deployed = deployed_lines(demo, names)
        if deployed:
            out += ['\n## The demo checkpoints deployed (val bbox mAP; INT8: change from '
                    'PyTorch)\n'] + deployed
    for size in args.sizes:
        rows = run_benchmark(specs, parts=('model', 'backbone'), batches=args.batch,
                             shape=(size, size), device='cpu', threads=args.threads,
                             warmup=args.warmup, rounds=args.rounds, repeats=args.repeats,
                             log=log, flop_floor=True)
        out += [f'\n## {size}x{size}\n', report(rows)]
        for batch in args.batch:
            out += [f'\nGoals at {size}x{size}, batch {batch} (ratios of medians, this run):\n',
                    '| goal | ratio | bound | |', '|---|---|---|---|']
            out += goal_lines(rows, names, batch)
    from mmghost.analysis import emit
    emit('\n'.join(out) + '\n', args.out_md)


if __name__ == '__main__':
    main()
