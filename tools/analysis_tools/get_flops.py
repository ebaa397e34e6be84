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


def measure(config, shape=(224, 224), deploy=False, backbone_only=False, cfg_options=None):
    """Returns ``dict(params, macs, total_flops)`` for the config's model."""
    from mmengine.registry import MODELS, DefaultScope
    from mmghost import switch_to_deploy
    from mmghost.utils.complexity import count_complexity
    from mmghost.utils.deploy import build_model, default_scope, load_config
    cfg = load_config(config, cfg_options)
    if backbone_only:
        import mmghost.models  # noqa: F401  (registers the mmghost scope)
        with DefaultScope.overwrite_default_scope(default_scope(cfg)):
            model = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    else:
        model = build_model(cfg)
    if deploy:
        switch_to_deploy(model)
    r = count_complexity(model, shape)
    return dict(params=r['params'], macs=r['macs'], total_flops=r['total'])


def main():
    args = parse_args()
    shape = (args.shape[0], args.shape[-1])
    r = measure(args.config, shape, args.deploy, args.backbone_only, args.cfg_options)
    what = 'backbone' if args.backbone_only else 'model'
    form = 'deploy' if args.deploy else 'train'
    print(f'{args.config} ({what}, {form} form, input {shape[0]}x{shape[1]}): '
          f'params {r["params"] / 1e6:.3f}M, MACs (conv+linear) {r["macs"] / 1e6:.1f}M, '
          f'FlopAnalyzer total {r["total_flops"] / 1e6:.1f}M; exact: {r["params"]:,} params, '
          f'{r["macs"]:,} MACs')


if __name__ == '__main__':
    main()
