"""Evaluate a deployed (exported) model over a config's test set, like tools/test.py.

    python tools/deployment/test_deployed.py CONFIG MODEL [--backend onnxruntime|openvino|ncnn]
        [--threads N] [--device cpu] [--work-dir DIR] [--show-dir DIR] [--show]
        [--compare CHECKPOINT] [--cfg-options k=v ...]

MODEL is an ``.onnx`` file (fp32 or INT8), an OpenVINO ``.xml`` IR or an ncnn ``.param``
written by mmghost's exporters (its metadata is checked against CONFIG's model). The config's
own dataloader, ``data_preprocessor``, evaluator (mmdet's CocoMetric, mmpretrain's Accuracy) and
visualization hook run unchanged around it (:func:`mmghost.runtime.deployed_config`), so the
printed metrics are those ``tools/test.py CONFIG CHECKPOINT`` prints for the PyTorch model.

``--compare CHECKPOINT`` also runs the PyTorch model on every test image and reports, per
image, whether the deployed model gives the same detections above the score threshold (same
count, same labels, boxes within 1e-3 relative) or the same top-1 class; it fails when more than
``--max-differing`` images differ.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('model', help='.onnx, OpenVINO .xml or ncnn .param file')
    parser.add_argument('--backend', default='onnxruntime',
                        choices=['onnxruntime', 'openvino', 'ncnn'])
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--work-dir')
    parser.add_argument('--show-dir', help='directory (under the work dir) for painted results')
    parser.add_argument('--show', action='store_true')
    parser.add_argument('--wait-time', type=float, default=2)
    parser.add_argument('--compare', metavar='CHECKPOINT',
                        help='also compare every prediction with the PyTorch model')
    parser.add_argument('--rtol', type=float, default=1e-3,
                        help='box tolerance of --compare (relative)')
    parser.add_argument('--max-differing', type=int, default=0,
                        help='images --compare may find different before it fails (an INT8 '
                        'model changes a few); default 0')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner import Runner

    from mmghost.runtime import compare_predictions, deployed_config
    from mmghost.engine import check_data, enable_visualization
    from mmghost.models.utils import load_config
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0] + f'_{args.backend}')
    try:
        check_data(cfg, splits=('test', ))
        deployed = deployed_config(cfg, args.model, args.backend, args.threads, args.device)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f'[test_deployed] error: {e}', file=sys.stderr)
        raise SystemExit(1)
    if args.show or args.show_dir:
        enable_visualization(deployed, args.show, args.show_dir, args.wait_time)
    metrics = Runner.from_cfg(deployed).test()
    if args.compare:
        report = compare_predictions(cfg, args.compare, args.model, args.backend,
                                     threads=args.threads, rtol=args.rtol)
        print(f'[test_deployed] against PyTorch ({args.compare}): {report["summary"]}')
        if len(report['differing']) > args.max_differing:
            raise SystemExit(1)
    return metrics


if __name__ == '__main__':
    out = main()
    sys.exit(out if isinstance(out, int) else 0)
