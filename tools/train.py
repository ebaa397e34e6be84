"""Train a classifier or detector from an mmghost / mmpretrain / mmdet config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp]
                                 [--auto-scale-lr] [--cfg-options k=v ...] [--launcher L]

The config decides the task (its ``default_scope`` and model). Multi-GPU / multi-process:
``bash tools/dist_train.sh CONFIG N``.
"""
import argparse
import logging

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmghost.engine.launcher import add_launcher_args, export_local_rank, set_work_dir


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint in the '
        'work_dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 AMP with loss scaling on CUDA, bf16 '
                        'autocast on CPU')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs (xxx=yyy); lists as '
        'key="[a,b]" and nested lists as key="[(a,b),(c,d)]" without spaces')
    add_launcher_args(parser)
    return export_local_rank(parser.parse_args())


def merge_args(cfg, args):
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        import torch
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper in ('AmpOptimWrapper', 'mmghost.CPUAmpOptimWrapper'):
            print_log('AMP training is already enabled in the config.', logger='current',
                      level=logging.WARNING)
        elif optim_wrapper != 'OptimWrapper':
            raise ValueError(f'--amp needs optim_wrapper type OptimWrapper, the config has '
                             f'{optim_wrapper}')
        elif torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'  # fp16 autocast + dynamic loss scale
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:  # mmengine's AmpOptimWrapper needs a GPU: bf16 autocast on CPU
            cfg.optim_wrapper.type = 'mmghost.CPUAmpOptimWrapper'
            cfg.optim_wrapper.setdefault('dtype', 'bfloat16')

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                               'base_batch_size=N)` in the config')

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main():
    args = parse_args()
    from mmghost.engine import (check_data, check_neck, setup_cpu_distributed,
                                setup_crash_safe_training, teardown_distributed)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    # Atomic checkpoints, resume-exact random streams, stop on NaN/inf loss; --resume picks
    # the newest complete checkpoint.
    setup_crash_safe_training(cfg, resume=args.resume)
    check_data(cfg, splits=('train', 'val'))  # missing data / bad COCO JSON / class count
    check_neck(cfg)  # a neck that does not fit the backbone's outputs
    setup_cpu_distributed(cfg)  # gloo DDP (and SyncBN) when launched without CUDA
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    teardown_distributed()


if __name__ == '__main__':
    main()
