"""INT8 post-training quantization of an exported model, calibrated on the config's training set.

    python tools/deployment/quantize.py CONFIG MODEL.onnx OUT [--backend onnxruntime|openvino]
        [--num-images 32] [--keep-float first_conv head_outputs depthwise dfc]
        [--method percentile|minmax|entropy] [--reduce-range] [--no-per-channel]
        [--cfg-options k=v ...]

OUT's suffix picks the runtime, and with it the route, each runtime's faster one (measured
2026-12-07, GhostNetV3-1.0x and MobileNetV3-Large, 224, batch 1 and 8):

* ``OUT.xml``: an OpenVINO IR quantized by NNCF (``--backend openvino``), 0.81-0.86x the time
  of ONNX Runtime's QDQ file in OpenVINO, and the fastest CPU path measured (GhostNetV3:
  0.5-0.6x ONNX Runtime's fp32);
* ``OUT.onnx``: ONNX Runtime's QDQ quantizer (``--backend onnxruntime``), which both runtimes
  run. In ONNX Runtime it is slower than the fp32 file on every CPU measured (1.2-2.5x with
  AVX-512 VNNI for the eight classifiers of benchmarks/ghost_vs_mobilenet.py, 1.1-2.4x with
  AVX2): for speed on CPU, quantize for OpenVINO.

Quantize the plain channel layout (``pytorch2onnx.py --align-channels 0``): both routes run it
faster than the layout aligned for ONNX Runtime's fp32 kernels (a warning says so). The
calibration images are the first ``--num-images`` of the config's train set, pre-processed as
at test time. Evaluate the result with ``tools/deployment/test_deployed.py CONFIG OUT``.
"""
import argparse
import sys

from mmengine.config import DictAction


def main(argv=None):
    from mmghost.quantize import CALIBRATION_METHODS, DEFAULT_KEEP_FLOAT, LAYER_GROUPS
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog=__doc__.split(
        '[--cfg-options k=v ...]')[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('model', help='the fp32 .onnx export')
    parser.add_argument('out', help='.onnx (ONNX Runtime QDQ) or .xml (OpenVINO IR, NNCF)')
    parser.add_argument('--backend', default=None, choices=['onnxruntime', 'openvino'],
                        help="the route; by default OUT's: .xml -> openvino, .onnx -> "
                        'onnxruntime')
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
    if info['backend'] == 'onnxruntime':
        print('[quantize] note: ONNX Runtime ran INT8 slower than fp32 on every CPU measured; '
              'for speed on CPU quantize for OpenVINO (OUT.xml)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
