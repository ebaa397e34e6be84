"""Leaving PyTorch: ONNX export of classifiers and backbones (deploy form), of whole detectors
(decoding and NMS in the graph, with the detection ops both eager and ONNX), ncnn export
through pnnx (single-stage detectors as their heads' raw maps, decoded after the graph), and
the checked export that compares a runtime's outputs with PyTorch's.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'onnx_export': ('OnnxExportModule', 'export_onnx', 'export_graph', 'min_input_size',
                    'dfc_input_sizes', 'preprocessor_metadata', 'resize_attributes'),
    'detector_export': ('DetectorExportModule', 'export_detector', 'supported_head'),
    'ncnn_export': ('DenseHeadOutputs', 'export_ncnn', 'pnnx_executable'),
    'onnx_check': ('export_checked', 'check_onnx', 'compare_onnx'),
})
