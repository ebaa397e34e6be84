"""Re-parameterize a trained checkpoint into its deploy (fused) form, and verify it.

    python tools/model_converters/reparameterize.py CONFIG CHECKPOINT OUT
        [--deploy-config PATH] [--shape H [W]] [--rtol 1e-4] [--cfg-options k=v ...]

Works for mmpretrain classifiers and mmdet detectors alike (the config decides). Steps:

1. build the config's model (in its ``default_scope``, ``backbone.init_cfg=None``: nothing is
   fetched) and load CHECKPOINT strictly;
2. ``mmghost.switch_to_deploy`` a copy and save ``{'meta', 'state_dict'}`` (no optimizer or
   message hub) to OUT, atomically (a temporary file renamed into place);
3. build the deploy model (``--deploy-config``, else the config with ``deploy=True`` on every
   re-parameterizable backbone, i.e. ``--cfg-options model.backbone.deploy=True``), load OUT
   strictly into it, and compare it with the training-form model on a seeded random
   (already normalized) batch in eval mode: classifier logits, detector raw head outputs
   (``mode='tensor'``). The largest relative difference is printed; above ``--rtol`` OUT is
   removed and the tool exits non-zero.

Refused with a message and a non-zero exit, nothing written: a checkpoint that is already in
deploy form, a model with nothing to re-parameterize (GhostNet V1/V2), a checkpoint that does
not match the config (the logic: :func:`mmghost.reparameterize.reparameterize_checkpoint`). Test the
result with ``tools/test.py DEPLOY_CONFIG OUT`` (or
``tools/test.py CONFIG OUT --cfg-options model.backbone.deploy=True``).
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training-form config of the checkpoint')
    parser.add_argument('checkpoint', help='training-form checkpoint')
    parser.add_argument('out', help='where to write the re-parameterized checkpoint')
    parser.add_argument('--deploy-config', default=None,
                        help='config that builds the deploy form (default: CONFIG with '
                        'deploy=True on every re-parameterizable backbone)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='H [W] of the random verification input (default 224)')
    parser.add_argument('--batch-size', type=int, default=2,
                        help='batch size of the verification input (default 2)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted max|fused - original| / max|original|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of both configs, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2) or min(args.shape) < 1:
        parser.error(f'--shape takes H or H W (positive), got {args.shape}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmghost.reparameterize import DeployError, reparameterize_checkpoint
    shape = (args.shape[0], args.shape[-1])
    try:
        return reparameterize_checkpoint(
            args.config, args.checkpoint, args.out, args.deploy_config, shape, args.batch_size,
            args.rtol, args.cfg_options, log=lambda m: print(f'[reparameterize] {m}',
                                                             flush=True))
    except DeployError as e:
        print(f'[reparameterize] error: {e}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    main()
