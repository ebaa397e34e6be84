"""INT8 post-training quantization of an exported model, calibrated on the config's training set.

    python tools/deployment/quantize.py CONFIG MODEL.onnx OUT [--backend onnxruntime|openvino]
        [--num-images 32] [--keep-float first_conv head_outputs depthwise dfc]
        [--method percentile|minmax|entropy] [--reduce-range] [--no-per-channel]
        [--cfg-options k=v ...]

OUT is an ``.onnx`` file (ONNX Runtime's QDQ quantizer; ONNX Runtime and OpenVINO run it) or,
with ``--backend openvino``, an OpenVINO ``.xml`` IR (NNCF). The calibration images are the
first ``--num-images`` of the config's train set, pre-processed as at test time. Evaluate the
result with ``tools/deployment/test_deployed.py CONFIG OUT``.
"""
import argparse
import sys

from mmengine.config import DictAction


def main(argv=None):
    from mmghost.quantize import CALIBRATION_METHODS, DEFAULT_KEEP_FLOAT, LAYER_GROUPS
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('model', help='the fp32 .onnx export')
    parser.add_argument('out', help='.onnx (onnxruntime) or .xml (openvino)')
    parser.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'openvino'])
    parser.add_argument('--num-images', type=int, default=32)
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--keep-float', nargs='*', default=list(DEFAULT_KEEP_FLOAT),
                        choices=list(LAYER_GROUPS), help='layer groups left in float')
    parser.add_argument('--method', default='percentile', choices=list(CALIBRATION_METHODS),
                        help='activation ranges (ONNX Runtime route): min/max over the '
                        'calibration set, a histogram percentile, or the histogram\'s entropy')
    parser.add_argument('--reduce-range', action='store_true',
                        help='7-bit weights (avoids u8 x s8 saturation on CPUs without VNNI)')
    parser.add_argument('--no-per-channel', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    from mmghost.quantize import calibration_batches, quantize_model
    from mmghost.models.utils import load_config
    try:
        cfg = load_config(args.config, args.cfg_options)
        batches = calibration_batches(cfg, args.num_images, args.split, args.model)
        info = quantize_model(args.model, args.out, batches, args.backend, args.keep_float,
                              per_channel=not args.no_per_channel, method=args.method,
                              reduce_range=args.reduce_range)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f'[quantize] error: {e}; nothing written', file=sys.stderr)
        raise SystemExit(1)
    print(f'[quantize] wrote {info["path"]} ({info["backend"]}, {info["calibration"]} '
          f'calibration images, {len(info["float_nodes"])} layers left in float: '
          f'{" ".join(args.keep_float) or "none"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
