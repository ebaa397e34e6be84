"""Where each model's time goes in ONNX Runtime and OpenVINO: milliseconds per run by op type.

    python tools/analysis_tools/profile_ops.py MODEL [MODEL ...] [--shape H [W]]
        [--batch N [N ...]] [--threads T] [--backends onnxruntime openvino]
        [--runs R] [--warmup W] [--out-md FILE]

MODEL is what ``tools/analysis_tools/benchmark_latency.py`` takes (a config path, an
``mmdet::``/``mmpretrain::``/``mmghost::`` config name or ``timm:NAME``) or an exported
``.onnx`` / OpenVINO ``.xml`` file (profiled at ``--shape`` and each ``--batch``, so its input
must take them). A model is re-parameterized and exported as the benchmark exports its
``@ort`` rows for ONNX Runtime (GhostNets channel-aligned; ``--plain`` for the plain layout)
and its ``@openvino`` rows for OpenVINO (fp32, static shape, per batch size; detectors whole),
then
profiled in a process without torch: ONNX Runtime's profiler (its optimized graph: ``Conv``
with fused activations, the ``ReorderInput``/``ReorderOutput`` of its NCHWc layout, ...) and
OpenVINO's performance counters (f32, the latency hint). One table per backend and batch size:
a row per op type, a column per model, the sum of the ops and the wall time per run.
"""
import argparse
import os.path as osp
import sys
import tempfile


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='CONFIG, mmpretrain::NAME, timm:NAME, or an '
                        'exported .onnx / .xml file')
    parser.add_argument('--shape', type=int, nargs='+', default=[224], help='input H [W]')
    parser.add_argument('--batch', type=int, nargs='+', default=[1])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--backends', nargs='+', default=['onnxruntime', 'openvino'],
                        choices=['onnxruntime', 'openvino'])
    parser.add_argument('--plain', action='store_true', help='ONNX Runtime: export GhostNets '
                        'in the plain channel layout (as OpenVINO takes them)')
    parser.add_argument('--runs', type=int, default=50, help='profiled runs per model')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--out-md', help='also write the tables to this markdown file')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    for m in args.models:
        if m.endswith(('.onnx', '.xml')) and not osp.isfile(m):
            parser.error(f'{m}: no such exported model file')
    return args


def exported_files(args, workdir):
    """``{(label, batch): {backend: onnx or xml path}}``."""
    from mmghost.analysis import build_model, model_label, parse_spec
    from mmghost.analysis.calls import make_exported_call
    shape = (args.shape[0], args.shape[-1])
    files = {}
    for m in args.models:
        if m.endswith(('.onnx', '.xml')):
            label = osp.basename(m)
            for b in args.batch:  # the file's own batch (static) or any (dynamic)
                files[(label, b)] = {k: m for k in args.backends
                                     if k == 'openvino' or not m.endswith('.xml')}
            continue
        spec = parse_spec(m)
        model = build_model(spec.name, deploy=True)
        forms = {'onnxruntime': 'ort-plain' if args.plain else 'ort', 'openvino': 'openvino'}
        for b in args.batch:
            files[(model_label(spec.name), b)] = {
                k: make_exported_call(model, forms[k], 'model', b, shape, args.threads,
                                      workdir)[1]['path'] for k in args.backends}
    return files


def main(argv=None):
    args = parse_args(argv)
    from mmghost.analysis.op_profile import op_profile_table, profile_ops_in_subprocess
    shape = (args.shape[0], args.shape[-1])
    out = [f'Op profiles: {shape[0]}x{shape[1]}, {args.threads} threads, {args.runs} runs '
           f'after {args.warmup} warm-up runs, random input.']
    with tempfile.TemporaryDirectory() as workdir:
        files = exported_files(args, workdir)
        for backend in args.backends:
            for b in args.batch:
                models = {label: (backend, paths[backend], [b, 3, shape[0], shape[1]])
                          for (label, batch), paths in files.items()
                          if batch == b and backend in paths}
                if not models:
                    continue
                profiles = profile_ops_in_subprocess(models, args.threads, args.runs,
                                                     args.warmup)
                out += [f'\n{backend}, batch {b} (ms per run):\n', op_profile_table(profiles)]
    text = '\n'.join(out) + '\n'
    print(text)
    if args.out_md:
        from mmghost.checkpoint.atomic import atomic_write
        atomic_write(args.out_md, text.encode())


if __name__ == '__main__':
    sys.exit(main())
