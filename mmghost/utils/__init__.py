from .checkpoint import allow_mmengine_checkpoints, mmengine_safe_globals

__all__ = ['allow_mmengine_checkpoints', 'mmengine_safe_globals', 'setup_runtime']


def setup_runtime() -> None:
    """What the tools do before building a Runner: allow mmengine checkpoints to load."""
    allow_mmengine_checkpoints()
