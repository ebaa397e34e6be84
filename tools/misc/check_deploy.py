"""Check that re-parameterization keeps a trained classifier's predictions.

    python tools/misc/check_deploy.py CONFIG CHECKPOINT [--max-batches N] [--cfg-options ...]

Runs the validation set through the training-form model and through its
``switch_to_deploy`` copy, and prints the top-1 accuracy of both, the fraction of identical
predictions and the largest relative logit difference. Exits non-zero if they disagree.
To write the fused checkpoint, use ``tools/model_converters/reparameterize.py`` (same
building, loading and comparison code: ``mmghost/utils/deploy.py``).
"""
import argparse
import copy

import torch
from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--rtol', type=float, default=1e-4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args()

    from mmghost import switch_to_deploy
    from mmghost.utils import setup_runtime
    from mmghost.utils.deploy import (build_model, default_scope, load_config, load_weights,
                                      max_relative_difference, tensor_outputs)
    setup_runtime()
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg)
    try:
        load_weights(model, args.checkpoint)
    except (ValueError, FileNotFoundError) as e:  # e.g. a checkpoint already in deploy form
        raise SystemExit(f'[check_deploy] error: {e}')
    model.eval()
    deployed = switch_to_deploy(copy.deepcopy(model)).eval()
    with DefaultScope.overwrite_default_scope(default_scope(cfg)):
        loader = Runner.build_dataloader(cfg.val_dataloader)

    n_train_form = n_deploy = n_same = total = 0
    worst = 0.0
    with torch.no_grad():
        for i, data in enumerate(loader):
            if args.max_batches is not None and i >= args.max_batches:
                break
            data = model.data_preprocessor(data, False)
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            a, = tensor_outputs(model, data['inputs'])
            b, = tensor_outputs(deployed, data['inputs'])
            worst = max(worst, max_relative_difference([a], [b]))
            n_train_form += (a.argmax(1) == labels).sum().item()
            n_deploy += (b.argmax(1) == labels).sum().item()
            n_same += (a.argmax(1) == b.argmax(1)).sum().item()
            total += labels.numel()
    n_params = (sum(p.numel() for p in model.parameters()),
                sum(p.numel() for p in deployed.parameters()))
    print(f'[check_deploy] {total} images: top-1 train form {100 * n_train_form / total:.2f}%, '
          f'deploy {100 * n_deploy / total:.2f}%, same prediction {100 * n_same / total:.2f}%, '
          f'max relative logit difference {worst:.2e}; params {n_params[0]:,} -> '
          f'{n_params[1]:,}')
    if worst > args.rtol or n_same != total:
        raise SystemExit('[check_deploy] FAILED: deploy form differs from the training form')


if __name__ == '__main__':
    main()
