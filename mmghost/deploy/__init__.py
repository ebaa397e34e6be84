"""Deployment: the re-parameterized (deploy) form and its checks, ONNX export, the eager
inference form, and runtime sessions.

Names are imported on first use, so ``mmghost.deploy.runtime`` runs without torch.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'reparameterize': ('CheckpointFormError', 'DeployError', 'reparameterizable_parts',
                       'make_deploy_config', 'load_weights', 'load_deploy_form', 'load_model',
                       'tensor_outputs', 'max_relative_difference', 'reparameterize_checkpoint',
                       'compare_forms'),
    'onnx_export': ('OnnxExportModule', 'export_onnx', 'export_graph', 'min_input_size',
                    'dfc_input_sizes', 'resize_attributes'),
    'onnx_check': ('export_checked', 'check_onnx', 'compare_onnx'),
    'detector_export': ('DetectorExportModule', 'export_detector'),
    'deployed_model': ('DeployedModel', 'Deployment', 'check_model_file', 'check_test_inputs',
                       'deployed_config',
                       'match_detections', 'compare_predictions'),
    'quantize': ('LAYER_GROUPS', 'DEFAULT_KEEP_FLOAT', 'CALIBRATION_METHODS',
                 'calibration_batches', 'float_nodes', 'quantize_model'),
    'preprocess': ('Preprocessor', 'detections_to_samples', 'logits_to_samples'),
    'draw': ('draw_predictions', 'top_classes'),
    'inference_form': ('optimize_for_inference', ),
    'runtime': ('BACKENDS', 'ort_session', 'read_metadata', 'save_openvino',
                'create_backend'),
})
