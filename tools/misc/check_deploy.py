"""Check that re-parameterization keeps a trained classifier's predictions.

    python tools/misc/check_deploy.py CONFIG CHECKPOINT [--max-batches N]

Runs the validation set through the training-form model and through its
``switch_to_deploy`` copy, and prints the top-1 accuracy of both, the fraction of identical
predictions and the largest relative logit difference. Exits non-zero if they disagree.
"""
import argparse
import copy

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--rtol', type=float, default=1e-4)
    args = parser.parse_args()

    from mmghost import switch_to_deploy
    from mmghost.utils import setup_runtime
    setup_runtime()
    cfg = Config.fromfile(args.config)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        from mmengine.registry import MODELS
        model = MODELS.build(cfg.model)
        load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
        model.eval()
        deployed = switch_to_deploy(copy.deepcopy(model)).eval()
        loader = Runner.build_dataloader(cfg.val_dataloader)

    n_train_form = n_deploy = n_same = total = 0
    worst = 0.0
    with torch.no_grad():
        for i, data in enumerate(loader):
            if args.max_batches is not None and i >= args.max_batches:
                break
            data = model.data_preprocessor(data, False)
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            a = model(data['inputs'], mode='tensor')
            b = deployed(data['inputs'], mode='tensor')
            worst = max(worst, ((a - b).abs().max() / a.abs().max().clamp_min(1e-12)).item())
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
