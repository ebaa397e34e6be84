"""Export a classifier or a single-stage detector in deploy form to ncnn (pnnx), and check it.

    python tools/deployment/pytorch2ncnn.py CONFIG CHECKPOINT OUT.ncnn.param
        [--backbone-only] [--shape H [W]] [--static-hw] [--check-shapes H,W ...]
        [--rtol 1e-4] [--cfg-options k=v ...]

Writes ``OUT.ncnn.param`` (graph), ``OUT.ncnn.bin`` (float32 weights) and ``OUT.ncnn.json``
(mmghost's metadata, checked against the config when the model is loaded). CHECKPOINT may be
in training or deploy form; the exported graph is the deploy form. A classifier gives its logits; a
single-stage detector (RetinaNet, SSD / SSDLite, RTMDet) its head's raw per-level maps, which
``mmghost.runtime.Deployment`` / ``tools/deployment/test_deployed.py --backend ncnn`` decode and
NMS after the graph with the config's own head (:mod:`mmghost.export.ncnn_export`).

The input is the normalized image, as for ONNX (mean, std and bgr_to_rgb are in the metadata).
H x W stays free (at least the backbone's ``min_input_size``) unless ``--static-hw`` (then
inputs of another size are refused with a message). After the
conversion ncnn and PyTorch run the same random images at the export shape and at
``--check-shapes`` (default 97,131 and 65,65, or the export shape alone with --static-hw); if any
output differs by more than ``--rtol`` of its largest magnitude, the files are removed and the
tool exits non-zero.
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    from mmghost.export.onnx_check import parse_hw
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='classifier or single-stage detector config')
    parser.add_argument('checkpoint', help='checkpoint, training or deploy form')
    parser.add_argument('out', help='output .ncnn.param file (.ncnn.bin and .ncnn.json are '
                        'written beside it)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='export the backbone (one output per out_index)')
    parser.add_argument('--shape', type=int, nargs='+', default=[320],
                        help='H [W] traced at export (default 320)')
    parser.add_argument('--static-hw', action='store_true',
                        help='a graph for the export shape only (other sizes are refused)')
    parser.add_argument('--check-shapes', type=parse_hw, nargs='+', default=None,
                        metavar='H,W', help='extra sizes checked (default 97,131 65,65)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted max|ncnn - PyTorch| / max|PyTorch|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {args.shape}')
    args.shape = (args.shape[0], args.shape[-1])
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape[0]} {args.shape[1]}')
    if not args.out.endswith('.ncnn.param'):
        parser.error(f'OUT is the .ncnn.param file (the .ncnn.bin and .ncnn.json are written '
                     f'beside it; a plain NAME.bin would collide with an OpenVINO IR\'s), got '
                     f'{args.out}')
    if args.check_shapes and args.static_hw:
        parser.error('--check-shapes and --static-hw exclude each other')
    return args


def _log(msg: str) -> None:
    print(f'[pytorch2ncnn] {msg}', flush=True)


def main(argv=None):
    args = parse_args(argv)
    from mmghost.export import export_checked, pnnx_executable
    from mmghost.models.utils import load_config
    from mmghost.reparameterize import load_model
    try:
        from mmghost.runtime.backends import ncnn_module
        pnnx_executable()  # before the checkpoint is read: both packages must be there
        ncnn_module()
        model, _ = load_model(load_config(args.config, args.cfg_options), args.checkpoint)
        return export_checked(model, args.out, args.shape, dynamic_hw=not args.static_hw,
                              backbone_only=args.backbone_only, check_shapes=args.check_shapes,
                              rtol=args.rtol, log=_log, fmt='ncnn')
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as e:
        print(f'[pytorch2ncnn] error: {e}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    main()
