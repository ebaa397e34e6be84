"""What tools/train.py and tools/test.py share on their command line: the distributed launcher
arguments and the default work directory."""
import argparse
import os
import os.path as osp
from typing import Optional

__all__ = ['add_launcher_args', 'export_local_rank', 'set_work_dir']


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and ``--local_rank`` / ``--local-rank`` (torch.distributed.launch)."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> argparse.Namespace:
    """``LOCAL_RANK`` from the command line when the launcher did not set it."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def set_work_dir(cfg, work_dir: Optional[str], config_path: str) -> None:
    """``work_dir``: the command line's, else the config's, else ``work_dirs/<config stem>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
