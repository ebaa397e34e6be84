"""Check a config before training it: data, class counts and whether the neck fits the backbone.

    python tools/misc/check_config.py CONFIG [--splits train val] [--no-data]
        [--cfg-options k=v ...]

The checks ``tools/train.py`` runs first (:func:`mmghost.engine.check_data` and
:func:`mmghost.engine.check_neck`); for a config of your own that swaps an mmghost backbone
into an mmdet detector, it names the neck ``in_channels`` the backbone needs.
"""
import argparse
import sys

from mmengine.config import Config, DictAction


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val', 'test'])
    parser.add_argument('--no-data', action='store_true', help='check only the model')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    from mmghost.engine import check_data, check_neck
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        if not args.no_data:
            check_data(cfg, splits=tuple(args.splits))
        check_neck(cfg)
    except (ValueError, FileNotFoundError) as e:
        print(f'[check_config] {args.config}: {e}', file=sys.stderr)
        raise SystemExit(1)
    print(f'[check_config] {args.config}: OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
