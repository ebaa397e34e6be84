"""Export a classifier, a detector or a backbone in deploy form to ONNX, and check it.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx
        [--backbone-only] [--shape H [W]] [--dynamic-batch | --no-dynamic-batch]
        [--dynamic-hw] [--opset N] [--check-shapes H,W ...] [--rtol 1e-4]
        [--align-channels N] [--openvino OUT.xml] [--cfg-options k=v ...]

CHECKPOINT may be in training or in deploy form; the exported graph is always the deploy
(re-parameterized) form. A classifier exports its logits; a detector (RetinaNet, YOLOv3,
Faster / Mask R-CNN) the whole detector with box decoding, RoI Align and class-wise NMS,
outputs ``boxes, scores, labels`` (+ ``masks``) (:mod:`mmghost.export.detector_export`);
``--backbone-only`` (any model) exports the backbone's ``out_indices`` outputs, named
``stage{i}``.
``--openvino`` also writes the OpenVINO IR of the checked file.

GhostNet, GhostNetV2, GhostNetV3 and GhostNetV3-Small backbones are exported in their
channel-aligned form (``--align-channels 16``, the default): the Ghost halves padded with zeros
to whole 16-channel blocks, so that ONNX Runtime keeps its blocked CPU layout through the
concats and gates (the same outputs; 0.76-0.91x the plain layout's time in ONNX Runtime at
batch 8, 0.89-1.02x at batch 1, docs/benchmarks.md). OpenVINO runs the padded graph slower,
and both INT8 routes quantize the plain one faster, so ``--align-channels 0`` writes the plain
layout, and is the default with ``--openvino``.

The graph's input is the *normalized* image (float32 N x 3 x H x W): the
``data_preprocessor``'s ``(pixel - mean) / std`` and BGR->RGB swap are not in the graph;
``mean``, ``std`` and ``bgr_to_rgb`` are recorded in the ONNX metadata_props.

After export, onnxruntime (CPU) and PyTorch run the same random batch (2 images with a
dynamic batch) at the export shape and, with ``--dynamic-hw``, at ``--check-shapes``
(default: 97,131 and 65,65, odd and non-square). The max abs difference is printed for each;
if, for any output, it exceeds ``--rtol`` times that output's largest magnitude, OUT is
removed and the tool exits non-zero. With ``--dynamic-hw`` the export shape and every
checked size must be at least the model's ``min_input_size`` (33 for ImageNet-layout
GhostNetV2/V3: below it a DFC gate sees a map under 2 px; see
:mod:`mmghost.export.onnx_export`, which holds the logic).
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    from mmghost.export.onnx_check import parse_hw
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='classifier (or, with --backbone-only, any) config')
    parser.add_argument('checkpoint', help='checkpoint, training or deploy form')
    parser.add_argument('out', help='output .onnx file')
    parser.add_argument('--backbone-only', action='store_true',
                        help='export the backbone (one output per out_index)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='H [W] traced at export (default 224)')
    parser.add_argument('--dynamic-batch', action=argparse.BooleanOptionalAction,
                        default=True, help='free batch dimension (default on)')
    parser.add_argument('--dynamic-hw', action='store_true', help='free H and W dimensions')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset, 11-20 (default 17)')
    parser.add_argument('--check-shapes', type=parse_hw, nargs='+', default=None,
                        metavar='H,W', help='extra sizes checked with onnxruntime (needs '
                        '--dynamic-hw; default 97,131 65,65 with --dynamic-hw)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted max|ORT - PyTorch| / max|PyTorch|')
    parser.add_argument('--align-channels', type=int, default=None, metavar='N',
                        help='channel block of GhostNet backbones for ONNX Runtime (default '
                        '16; 0: the plain layout, the default with --openvino)')
    parser.add_argument('--openvino', metavar='OUT.xml',
                        help='also write the OpenVINO IR (.xml + .bin) of the export')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {args.shape}')
    args.shape = (args.shape[0], args.shape[-1])
    if args.align_channels is None:
        from mmghost.reparameterize.aligned_form import ORT_BLOCK
        args.align_channels = 0 if args.openvino else ORT_BLOCK
    if args.align_channels < 0:
        parser.error(f'--align-channels takes 0 (plain layout) or a channel block such as 16, '
                     f'got {args.align_channels}')
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape[0]} {args.shape[1]}')
    if args.check_shapes and not args.dynamic_hw and \
            any(tuple(s) != args.shape for s in args.check_shapes):
        parser.error(f'--check-shapes {" ".join(f"{h},{w}" for h, w in args.check_shapes)} '
                     f'need --dynamic-hw: a static graph runs only at its export shape '
                     f'{args.shape[0]}x{args.shape[1]}')
    return args


def _log(msg: str) -> None:
    print(f'[pytorch2onnx] {msg}', flush=True)


def main(argv=None):
    args = parse_args(argv)
    from mmghost.export import export_checked
    from mmghost.reparameterize import load_model
    from mmghost.models.utils import load_config
    try:
        if args.openvino:  # before anything is written: no ONNX file without its IR
            from mmghost.runtime.backends import openvino_core
            if not args.openvino.endswith('.xml'):
                raise ValueError(f'--openvino writes an IR (.xml + .bin), got {args.openvino}')
            openvino_core()
        model, _ = load_model(load_config(args.config, args.cfg_options), args.checkpoint)
        worst = export_checked(model, args.out, args.shape, dynamic_batch=args.dynamic_batch,
                               dynamic_hw=args.dynamic_hw, opset=args.opset,
                               backbone_only=args.backbone_only,
                               check_shapes=args.check_shapes, rtol=args.rtol, log=_log,
                               align_channels=args.align_channels)
        if args.openvino:
            from mmghost.runtime import save_openvino
            save_openvino(args.out, args.openvino)
            _log(f'wrote {args.openvino} (OpenVINO IR)')
        return worst
    except (ValueError, FileNotFoundError, ImportError) as e:  # shapes, opset, a runtime, ...
        print(f'[pytorch2onnx] error: {e}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    main()
