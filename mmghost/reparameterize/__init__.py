"""The deploy form of a model: a config's re-parameterized twin, loading a checkpoint in either
form, fusing a trained checkpoint and checking that the fused model computes the same; the
eager inference form (deploy form, BNs folded, optionally NHWC); and the channel-aligned form
that ONNX exports for ONNX Runtime take (Ghost halves padded to whole channel blocks).

The fusion math of single blocks lives beside the blocks (:mod:`mmghost.models.layers.reparam`);
this package applies it to whole configs, models and checkpoints.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'deploy_form': ('CheckpointFormError', 'DeployError', 'reparameterizable_parts',
                    'make_deploy_config', 'load_weights', 'load_deploy_form', 'load_model',
                    'tensor_outputs', 'max_relative_difference', 'reparameterize_checkpoint',
                    'compare_forms'),
    'inference_form': ('optimize_for_inference', ),
    'aligned_form': ('align_channels', 'align_backbones', 'alignable', 'ChannelLayout',
                     'AlignedGhostNet', 'ORT_BLOCK'),
})
