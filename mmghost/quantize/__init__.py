"""INT8: static post-training quantization of exported models (ONNX Runtime QDQ or NNCF for
OpenVINO), calibrated on the config's training images, with chosen layer groups kept in float.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'post_training': ('LAYER_GROUPS', 'DEFAULT_KEEP_FLOAT', 'CALIBRATION_METHODS',
                      'BACKEND_SUFFIX', 'default_backend', 'calibration_batches', 'float_nodes',
                      'quantize_model'),
})
