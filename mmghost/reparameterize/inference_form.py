"""The inference form of an mmghost model: deployed, BNs folded, optionally NHWC.

Nothing here changes what a model computes (up to float rounding), only how fast eager
PyTorch runs it. The result is for running a trained model, not for checkpoints: its
``state_dict`` is not the deploy layout that ``deploy=True`` configs load.
"""
import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn as fuse_conv_bn_modules

from mmghost.models.layers import switch_to_deploy

__all__ = ['optimize_for_inference']


@torch.no_grad()
def optimize_for_inference(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """Prepare ``model`` for eager inference, in place, without changing its outputs.

    1. :func:`switch_to_deploy` (re-parameterizable blocks become single convs);
    2. every BatchNorm that follows a conv is folded into it (mmcv's ``fuse_conv_bn``): the
       stem, shortcuts, DFC branches, V1/V2 Ghost modules and the final 1x1 conv;
    3. ``channels_last=True`` stores the weights NHWC; give it NHWC inputs too. On CPU,
       oneDNN's depth-wise convs and the DFC gates' nearest upsampling are much faster in
       NHWC (GhostNetV3 deploy: about 0.7x the NCHW time, docs/benchmarks.md).

    The model is put in eval mode, since folding uses the BN running statistics. ONNX
    Runtime folds BNs itself, so :func:`mmghost.export.onnx_export.export_onnx` only deploys.

    Returns:
        nn.Module: ``model`` itself.
    """
    model.eval()
    switch_to_deploy(model)
    fuse_conv_bn_modules(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
