"""Everything a deployment uses, from one import: ``from mmghost.deploy import Deployment``.

Each name lives in the package of its job, and is imported from there on first use:

* :mod:`mmghost.reparameterize`: the deploy form of a model (fusing configs, models,
  checkpoints, and checking the fused form), the eager inference form;
* :mod:`mmghost.export`: ONNX export of classifiers, backbones and whole detectors, the checked
  export;
* :mod:`mmghost.quantize`: INT8 post-training quantization;
* :mod:`mmghost.runtime`: running exported graphs (ONNX Runtime, OpenVINO; no torch), the
  deployed model and its pre/post-processing, drawing.

The module paths of the release before (``mmghost.deploy.runtime``, ``.onnx_export``, ...) still
import, as the moved modules, with a ``DeprecationWarning``; they go in the next release.
"""
from mmghost._lazy import lazy_exports, moved_modules

_HOMES = {
    'mmghost.reparameterize': ('CheckpointFormError', 'DeployError', 'reparameterizable_parts',
                               'make_deploy_config', 'load_weights', 'load_deploy_form',
                               'load_model', 'tensor_outputs', 'max_relative_difference',
                               'reparameterize_checkpoint', 'compare_forms',
                               'optimize_for_inference'),
    'mmghost.export': ('OnnxExportModule', 'export_onnx', 'export_graph', 'min_input_size',
                       'dfc_input_sizes', 'resize_attributes', 'export_checked', 'check_onnx',
                       'compare_onnx', 'DetectorExportModule', 'export_detector'),
    'mmghost.quantize': ('LAYER_GROUPS', 'DEFAULT_KEEP_FLOAT', 'CALIBRATION_METHODS',
                         'calibration_batches', 'float_nodes', 'quantize_model'),
    'mmghost.runtime': ('BACKENDS', 'ort_session', 'read_metadata', 'save_openvino',
                        'create_backend', 'Preprocessor', 'detections_to_samples',
                        'logits_to_samples', 'DeployedModel', 'Deployment', 'check_model_file',
                        'check_test_inputs', 'deployed_config', 'match_detections',
                        'compare_predictions', 'draw_predictions', 'top_classes'),
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)

moved_modules({
    'mmghost.deploy.reparameterize': 'mmghost.reparameterize.deploy_form',
    'mmghost.deploy.inference_form': 'mmghost.reparameterize.inference_form',
    'mmghost.deploy.onnx_export': 'mmghost.export.onnx_export',
    'mmghost.deploy.detector_export': 'mmghost.export.detector_export',
    'mmghost.deploy.detector_ops': 'mmghost.export.detector_ops',
    'mmghost.deploy.onnx_check': 'mmghost.export.onnx_check',
    'mmghost.deploy.quantize': 'mmghost.quantize.post_training',
    'mmghost.deploy.runtime': 'mmghost.runtime.backends',
    'mmghost.deploy.preprocess': 'mmghost.runtime.preprocess',
    'mmghost.deploy.deployed_model': 'mmghost.runtime.deployed_model',
    'mmghost.deploy.draw': 'mmghost.runtime.draw',
})
