"""Small model helpers: building a config's model, and calling any model on tensors."""
from .builder import (build_classifier, build_from_config, configs_root, default_scope,
                      family_config, load_config)
from .tensor_mode import (PARTS, TensorModeWrapper, det_samples, flatten_tensors, is_detector,
                          seeded_input, tensor_forward)

__all__ = [
    'build_classifier', 'configs_root', 'family_config', 'build_from_config', 'default_scope',
    'load_config', 'PARTS', 'TensorModeWrapper', 'det_samples', 'flatten_tensors',
    'is_detector', 'seeded_input', 'tensor_forward'
]
