"""Export a classifier (or a backbone) in deploy form to ONNX and check it with onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx
        [--backbone-only] [--shape H [W]] [--dynamic-batch | --no-dynamic-batch]
        [--dynamic-hw] [--opset N] [--check-shapes H,W ...] [--rtol 1e-4]
        [--cfg-options k=v ...]

CHECKPOINT may be in training or in deploy form; the exported graph is always the deploy
(re-parameterized) form. A classifier exports its logits; ``--backbone-only`` (required for
detector configs) exports the backbone's ``out_indices`` outputs, named ``stage{i}``.

The graph's input is the *normalized* image (float32 N x 3 x H x W): the
``data_preprocessor``'s ``(pixel - mean) / std`` and BGR->RGB swap are not in the graph;
``mean``, ``std`` and ``bgr_to_rgb`` are recorded in the ONNX metadata_props.

After export, onnxruntime (CPU) and PyTorch run the same random batch (2 images with a
dynamic batch) at the export shape and, with ``--dynamic-hw``, at ``--check-shapes``
(default: 97,131 and 65,65, odd and non-square). The max abs difference is printed for each;
if, for any output, it exceeds ``--rtol`` times that output's largest magnitude, OUT is
removed and the tool exits non-zero. With ``--dynamic-hw`` the export shape and every
checked size must be at least the model's ``min_input_size`` (33 for ImageNet-layout
GhostNetV2/V3: below it a DFC gate sees a map under 2 px; see mmghost/utils/onnx.py).
"""
import argparse
import os
import sys

import torch
from mmengine.config import DictAction

DEFAULT_CHECK_SHAPES = ((97, 131), (65, 65))


def _parse_hw(text: str):
    for sep in (',', 'x', 'X'):
        if sep in text:
            parts = text.split(sep)
            break
    else:
        parts = [text, text]
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected H,W (or HxW, or S), got {text!r}')
    if len(parts) != 2 or h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f'expected positive H,W, got {text!r}')
    return h, w


def parse_args(argv=None):
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
    parser.add_argument('--check-shapes', type=_parse_hw, nargs='+', default=None,
                        metavar='H,W', help='extra sizes checked with onnxruntime (needs '
                        '--dynamic-hw; default 97,131 65,65 with --dynamic-hw)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted max|ORT - PyTorch| / max|PyTorch|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {args.shape}')
    args.shape = (args.shape[0], args.shape[-1])
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


def export_and_check(args) -> float:
    """Export as ``args`` says, check with onnxruntime; returns the worst relative error."""
    from mmghost.utils.deploy import load_config, load_model
    from mmghost.utils.onnx import (compare_onnx, export_onnx, min_input_size,
                                    resize_attributes)

    cfg = load_config(args.config, args.cfg_options)
    model, _ = load_model(cfg, args.checkpoint)
    h, w = args.shape
    shapes = [(h, w)]
    if args.dynamic_hw:
        extra = args.check_shapes if args.check_shapes is not None else DEFAULT_CHECK_SHAPES
        shapes += [tuple(s) for s in extra if tuple(s) != (h, w)]
        least = min_input_size(model, args.backbone_only)
        small = [f'{a}x{b}' for a, b in shapes if min(a, b) < least]
        if small:
            raise ValueError(
                f'{", ".join(small)} below the min_input_size {least} of this model: a '
                f'dynamic H x W graph is exact only when every DFC gate sees a map of at '
                f'least 2x2 px (inputs >= {least}); choose larger sizes, or export a static '
                f'graph (no --dynamic-hw) at the size you need')
    info = export_onnx(model, args.out, (h, w), dynamic_batch=args.dynamic_batch,
                       dynamic_hw=args.dynamic_hw, opset=args.opset,
                       backbone_only=args.backbone_only)
    meta = info['metadata']
    _log(f'wrote {args.out}: {meta["task"]} {meta["backbone"]} (deploy form), opset '
         f'{args.opset}, input {info["input_name"]} '
         f'{"N" if args.dynamic_batch else 1}x3x{"H" if args.dynamic_hw else h}x'
         f'{"W" if args.dynamic_hw else w}, outputs {", ".join(info["output_names"])}')
    if 'mean' in meta:
        _log(f'input is normalized outside the graph: mean {meta["mean"]}, std {meta["std"]}, '
             f'bgr_to_rgb {meta.get("bgr_to_rgb", "false")} (in metadata_props)')
    if info['min_input_size'] is not None:
        _log(f'dynamic H x W valid for H, W >= {info["min_input_size"]}')
    resizes = resize_attributes(args.out)
    if resizes:
        kinds = sorted({(r.get('mode'), r.get('coordinate_transformation_mode'),
                         r.get('nearest_mode')) for r in resizes})
        _log(f'{len(resizes)} Resize nodes (DFC gates): ' +
             '; '.join(f'mode={a}, coordinate_transformation_mode={b}, nearest_mode={c}'
                       for a, b, c in kinds))

    batch = 2 if args.dynamic_batch else 1
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(batch, 3, a, b, generator=g) for a, b in shapes]
    worst = 0.0
    failed = []
    for r in compare_onnx(args.out, model, inputs):
        rel = r['max_rel_diff']  # per output, relative to its own magnitude
        worst = max(worst, rel)
        n, _, a, b = r['shape']
        _log(f'onnxruntime vs PyTorch at {n}x3x{a}x{b}: max abs diff {r["max_abs_diff"]:.3e} '
             f'(max |output| {r["max_abs_ref"]:.3e}, relative {rel:.2e})')
        if not rel <= args.rtol:
            failed.append(f'{a}x{b}')
    if failed:
        os.remove(args.out)
        raise SystemExit(f'FAILED: onnxruntime differs from PyTorch by more than rtol '
                         f'{args.rtol:g} at {", ".join(failed)}; {args.out} removed')
    _log(f'OK: max relative difference {worst:.2e} <= {args.rtol:g}')
    return worst


def main(argv=None):
    args = parse_args(argv)
    from mmghost.utils import setup_runtime
    setup_runtime()
    try:
        return export_and_check(args)
    except (ValueError, FileNotFoundError) as e:  # bad shapes, opset, checkpoint, ...
        print(f'[pytorch2onnx] error: {e}', file=sys.stderr)
        raise SystemExit(1)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(f'[pytorch2onnx] error: {e.code}', file=sys.stderr)
            raise SystemExit(1)
        raise


if __name__ == '__main__':
    main()
