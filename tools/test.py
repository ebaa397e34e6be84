"""Evaluate a checkpoint with the config's evaluator (COCO mAP for detectors, top-k accuracy
for classifiers).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--show-dir DIR] [--show] [--tta] [--cfg-options k=v ...]
"""
import argparse

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmghost.engine.launcher import add_launcher_args, export_local_rank, set_work_dir

from mmghost.models.utils import is_detector


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the evaluation metrics')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory (under the work dir) where painted '
                        'predictions are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of --show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation, when the '
                        'config defines tta_model and tta_pipeline')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    add_launcher_args(parser)
    return export_local_rank(parser.parse_args())


def main():
    args = parse_args()
    from mmghost.engine import (check_data, check_neck, checkpoint_problem,
                                enable_visualization, setup_cpu_distributed,
                                teardown_distributed)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time)

    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError('--tta needs `tta_model` and `tta_pipeline` in the config')
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        test_data_cfg.pipeline = cfg.tta_pipeline

    # One clear error for a missing/corrupt checkpoint, missing data or a class-count mismatch.
    problem = None if '://' in args.checkpoint else checkpoint_problem(args.checkpoint)
    if problem is not None:
        raise ValueError(f'checkpoint {args.checkpoint!r}: {problem}; expected a checkpoint '
                         f'written by torch.save (tools/train.py or a converter)')
    check_data(cfg, splits=('test', ))
    check_neck(cfg)
    setup_cpu_distributed(cfg)  # gloo DDP when launched without CUDA
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl/.pickle file, got {args.out}')
        if is_detector(cfg):
            from mmdet.evaluation import DumpDetResults
            runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
        else:
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    teardown_distributed()
    return metrics


if __name__ == '__main__':
    main()
