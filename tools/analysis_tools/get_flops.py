"""Parameters and MACs of any config's model (classifier, detector, or its backbone).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]] [--deploy] [--backbone-only]

MACs are reported twice: conv + linear multiply-accumulates (the papers' "FLOPs"), and
mmengine's FlopAnalyzer total (which also counts BN, pooling, upsampling, ...). ``--deploy``
re-parameterizes first (``mmghost.switch_to_deploy``). Detectors are measured on a dummy
image through backbone + neck + head tensors (no post-processing).
"""
import argparse

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224], help='input H [W]')
    parser.add_argument('--deploy', action='store_true', help='measure the fused form')
    parser.add_argument('--backbone-only', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    shape = (args.shape[0], args.shape[-1])
    from mmghost.analysis import config_complexity
    r = config_complexity(args.config, shape, args.deploy, args.backbone_only, args.cfg_options)
    what = 'backbone' if args.backbone_only else 'model'
    form = 'deploy' if args.deploy else 'train'
    print(f'{args.config} ({what}, {form} form, input {shape[0]}x{shape[1]}): '
          f'params {r["params"] / 1e6:.3f}M, MACs (conv+linear) {r["macs"] / 1e6:.1f}M, '
          f'FlopAnalyzer total {r["total"] / 1e6:.1f}M; exact: {r["params"]:,} params, '
          f'{r["macs"]:,} MACs')


if __name__ == '__main__':
    main()
