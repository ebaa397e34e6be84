"""Checkpoints: safe loading, atomic writing, published key layouts and their conversion.

Names are imported on first use: :mod:`mmghost.checkpoint.safe_load` is what mmghost wires
into mmengine's checkpoint loading, and must not pull in the models.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'atomic': ('atomic_write', 'save_atomic'),
    'hub': ('SCHEME', 'MIRROR_ENV', 'resolve', 'download', 'fetch_converted', 'load_published',
            'register_loaders', 'register_model_index', 'model_index_path'),
    'convert': ('ConversionError', 'ConversionResult', 'convert_checkpoint', 'verify_with_timm'),
    'layouts': ('EMA_KEYS', 'PLAIN_KEYS', 'HEAD_KEYS', 'normalize_keys', 'select_state_dict',
                'to_mmghost'),
    'safe_load': ('CheckpointError', 'allow_mmengine_checkpoints', 'load_checkpoint_safely',
                  'mmengine_safe_globals'),
})
