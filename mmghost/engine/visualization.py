"""Turning on a test config's visualization hook (``--show`` / ``--show-dir``)."""
from typing import Optional

__all__ = ['enable_visualization']


def enable_visualization(cfg, show: bool = False, show_dir: Optional[str] = None,
                         wait_time: float = 2) -> None:
    """Make the config's ``visualization`` hook paint the test predictions, in place: mmdet's
    ``DetVisualizationHook`` (``draw``, ``test_out_dir``) or mmpretrain's
    ``VisualizationHook`` (``enable``, ``out_dir``); ``show_dir`` is relative to the run's
    timestamped folder, as in mmdet's tools.

    Raises:
        RuntimeError: The config has no ``visualization`` hook.
    """
    from mmghost.models.utils import is_detector
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a `visualization` hook in default_hooks')
    vis = hooks['visualization']
    detection = is_detector(cfg)
    vis['draw' if detection else 'enable'] = True
    if show:
        vis['show'] = True
        vis['wait_time'] = wait_time
    if show_dir:
        vis['test_out_dir' if detection else 'out_dir'] = show_dir
