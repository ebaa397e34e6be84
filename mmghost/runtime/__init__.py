"""Running exported models: ONNX Runtime, OpenVINO and ncnn sessions (:mod:`.backends`, no
torch), the config's pre- and post-processing every backend shares (:mod:`.preprocess`), the
deployed model behind mmdet's / mmpretrain's data samples and mmengine's Runner
(:mod:`.deployed_model`), and drawing its predictions (:mod:`.draw`).

Names are imported on first use: ``import mmghost.runtime.backends`` loads no torch, so a
process that only times or serves an exported graph stays free of it.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'backends': ('BACKENDS', 'ort_session', 'openvino_core', 'read_metadata', 'save_openvino',
                 'create_backend', 'ncnn_files'),
    'preprocess': ('Preprocessor', 'detections_to_samples', 'logits_to_samples',
                   'DenseHeadDecoder', 'dense_head_config'),
    'deployed_model': ('DeployedModel', 'Deployment', 'check_model_file', 'check_test_inputs',
                       'deployed_config', 'match_detections', 'compare_predictions'),
    'draw': ('draw_predictions', 'top_classes'),
})
