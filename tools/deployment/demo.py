"""Run a model in any form on an image or a folder of images and draw the predictions.

    python tools/deployment/demo.py INPUT CONFIG MODEL
        [--backend pytorch|onnxruntime|openvino|ncnn] [--out-dir outputs] [--score-thr 0.3]
        [--threads N] [--device cpu]

MODEL is a PyTorch checkpoint (``--backend pytorch``, training or deploy form), an ``.onnx``
file (fp32 or INT8), an OpenVINO ``.xml`` IR or an ncnn ``.param``
(tools/deployment/pytorch2ncnn.py). Detectors: the picture with boxes and class names,
drawn by mmdet's ``DetLocalVisualizer``; classifiers: the top-5 classes, printed and
written on the picture (mmpretrain's ``UniversalVisualizer``). One picture per input image in
``--out-dir``.
"""
import argparse
import os
import os.path as osp
import sys

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def images_of(path: str):
    if osp.isdir(path):
        files = sorted(osp.join(path, f) for f in os.listdir(path)
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise FileNotFoundError(f'no images ({", ".join(IMAGE_EXTS)}) in {path}')
        return files
    if not osp.isfile(path):
        raise FileNotFoundError(f'no such image or folder: {path}')
    return [path]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='an image file or a folder of images')
    parser.add_argument('config')
    parser.add_argument('model', help='checkpoint (pytorch), .onnx, .xml or ncnn .param')
    parser.add_argument('--backend', default=None,
                        choices=['pytorch', 'onnxruntime', 'openvino', 'ncnn'],
                        help='default: openvino for .xml, ncnn for .param, onnxruntime for .onnx, '
                        'else pytorch')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    backend = args.backend or ('openvino' if args.model.endswith('.xml') else
                               'ncnn' if args.model.endswith('.param') else
                               'onnxruntime' if args.model.endswith('.onnx') else 'pytorch')
    from mmghost.runtime import Deployment, draw_predictions
    try:
        images = images_of(args.input)
        runner = Deployment(args.config, args.model, backend, args.device, args.threads)
        # Every image is read and predicted before any picture is written: an unreadable
        # one stops the demo with nothing drawn.
        samples = [runner([path])[0] for path in images]
        written = [draw_predictions(runner, path, sample, args.out_dir, args.score_thr,
                                    log=print) for path, sample in zip(images, samples)]
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f'[demo] error: {e}', file=sys.stderr)
        raise SystemExit(1)
    print(f'[demo] {len(written)} picture(s) in {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
