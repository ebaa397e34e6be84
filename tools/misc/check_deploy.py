"""Check that re-parameterization keeps a trained classifier's predictions.

    python tools/misc/check_deploy.py CONFIG CHECKPOINT [--max-batches N] [--cfg-options ...]

Runs the validation set through the training-form model and through its
``switch_to_deploy`` copy, and prints the top-1 accuracy of both, the fraction of identical
predictions and the largest relative logit difference. Exits non-zero if they disagree.
To write the fused checkpoint, use ``tools/model_converters/reparameterize.py`` (same
building, loading and comparison code: :mod:`mmghost.reparameterize.deploy_form`).
"""
import argparse

from mmengine.config import DictAction


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--rtol', type=float, default=1e-4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args()

    from mmghost.reparameterize import DeployError, compare_forms
    try:
        r = compare_forms(args.config, args.checkpoint, args.max_batches, args.cfg_options)
    except DeployError as e:  # e.g. a checkpoint already in deploy form
        raise SystemExit(f'[check_deploy] error: {e}')
    print(f'[check_deploy] {r["images"]} images: top-1 train form {r["top1_train"]:.2f}%, '
          f'deploy {r["top1_deploy"]:.2f}%, same prediction {r["same"]:.2f}%, max relative '
          f'logit difference {r["max_rel_diff"]:.2e}; params {r["params_train"]:,} -> '
          f'{r["params_deploy"]:,}')
    if r['max_rel_diff'] > args.rtol or r['same'] != 100:
        raise SystemExit('[check_deploy] FAILED: deploy form differs from the training form')


if __name__ == '__main__':
    main()
