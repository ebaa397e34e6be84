"""mmghost.quantize.post_training: INT8 post-training quantization through ONNX Runtime's QDQ
quantizer and NNCF/OpenVINO keeps the layer groups asked for in float, carries the export's
metadata, and refuses bad input before writing anything. (How close INT8 stays to fp32 is
measured on a trained model in tests/test_tools/test_deployment_tools.py: a random network's
logits on random images differ by less than one quantization step, so they cannot show it.)"""
import os

import numpy as np
import pytest
import torch
from helpers import build, classifier_cfg, randomize_bn

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A GhostNetV2 classifier (DFC branches, depthwise convs) exported at 64 x 64 and 16
    calibration batches drawn like its inputs."""
    from mmghost.export import export_onnx
    torch.manual_seed(0)
    model = build(classifier_cfg('GhostNetV2', 0.5))
    x = torch.randn(8, 3, 64, 64)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor'))
    path = str(tmp_path_factory.mktemp('q') / 'v2.onnx')
    export_onnx(model.eval(), path, shape=(64, 64), align_channels=0)  # INT8's layout
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(16)]
    return path, calib


def _op_names(path, op):
    return {n.name for n in onnx.load(path).graph.node if n.op_type == op}


def test_float_nodes_finds_each_layer_group(exported):
    from mmghost.quantize import float_nodes
    path, _ = exported
    graph = onnx.load(path).graph
    convs = [n for n in graph.node if n.op_type == 'Conv']
    attrs = {n.name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for n in convs}
    assert float_nodes(path, ['first_conv']) == [convs[0].name]
    depthwise = float_nodes(path, ['depthwise'])
    assert depthwise and all(attrs[n]['group'] > 1 for n in depthwise)
    assert len(depthwise) == sum(a.get('group', 1) > 1 for n, a in attrs.items()
                                 if n != convs[0].name)
    dfc = float_nodes(path, ['dfc'])
    assert dfc and all('short_conv' in n for n in dfc)
    head = float_nodes(path, ['head_outputs'])
    assert head and all(n in _op_names(path, 'Gemm') | _op_names(path, 'MatMul') for n in head)
    with pytest.raises(ValueError, match='unknown layer groups'):
        float_nodes(path, ['stem'])


def _outputs(path, batches, backend='onnxruntime'):
    from mmghost.runtime import create_backend
    run = create_backend(backend, path)
    return np.concatenate([run(x)[0] for x in batches])


def _ran_quantized(fp32_path, int8_path, batches, backend='onnxruntime'):
    """The INT8 file runs, is not the fp32 model, and stays within a quarter of the fp32
    outputs' range of them (a wrong scale or zero point lands far outside). The bound on
    predictions, on a trained model: tests/test_tools/test_deployment_tools.py."""
    ref, out = _outputs(fp32_path, batches), _outputs(int8_path, batches, backend)
    assert out.shape == ref.shape and np.isfinite(out).all()
    assert not np.allclose(out, ref, rtol=1e-4, atol=1e-5)
    err, spread = np.abs(out - ref).max(), ref.max() - ref.min()
    assert err <= 0.25 * spread, (int8_path, err, spread)  # measured: 0.19 (NNCF), ORT less


def test_onnxruntime_qdq_quantizes_all_but_the_kept_layers(exported, tmp_path):
    from mmghost.quantize import float_nodes, quantize_model
    from mmghost.runtime import read_metadata
    path, calib = exported
    out = str(tmp_path / 'v2-int8.onnx')
    info = quantize_model(path, out, calib, keep_float=['first_conv', 'head_outputs'])
    assert info['float_nodes'] == float_nodes(path, ['first_conv', 'head_outputs'])
    graph = onnx.load(out).graph
    # Each quantized conv reads a DequantizeLinear weight; the kept ones read float weights.
    produced_by = {o: n for n in graph.node for o in n.output}
    conv_inputs = {n.name: [produced_by.get(i) for i in n.input[:2]] for n in graph.node
                   if n.op_type == 'Conv'}
    quantized = {name for name, (act, w) in conv_inputs.items()
                 if w is not None and w.op_type == 'DequantizeLinear'}
    assert info['float_nodes'][0] in conv_inputs and info['float_nodes'][0] not in quantized
    assert len(quantized) == len(conv_inputs) - 1
    meta = read_metadata(out)
    assert meta['precision'] == 'int8' and meta['task'] == 'classifier'
    assert meta['calibration_images'] == '16'
    _ran_quantized(path, out, calib[:4])


def test_openvino_nncf_writes_an_ir_with_metadata(exported, tmp_path):
    pytest.importorskip('nncf')
    ov = pytest.importorskip('openvino')
    from mmghost.quantize import quantize_model
    from mmghost.runtime import read_metadata
    path, calib = exported
    out = str(tmp_path / 'ir' / 'v2-int8.xml')
    quantize_model(path, out, calib, backend='openvino', keep_float=['first_conv'])
    assert sorted(os.listdir(tmp_path / 'ir')) == ['v2-int8.bin', 'v2-int8.xml']
    meta = read_metadata(out)
    assert meta['precision'] == 'int8' and meta['quantized_by'].startswith('nncf')
    assert meta['outputs'] == read_metadata(path)['outputs']
    model = ov.Core().read_model(out)
    assert any(op.get_type_name() == 'FakeQuantize' for op in model.get_ops())
    _ran_quantized(path, out, calib[:4], backend='openvino')


def test_openvino_quantizes_mobilenetv3_style_hsigmoid_gates(tmp_path):
    """NNCF's bias correction fails on mmcv's HSigmoid ("+ 3" after the SE conv, as in
    mmpretrain's MobileNetV3); the OpenVINO route quantizes such a graph without it and says so."""
    pytest.importorskip('nncf')
    ov = pytest.importorskip('openvino')
    from mmpretrain.models.utils import SELayer

    from mmghost.quantize import quantize_model
    from mmghost.runtime import read_metadata
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
        SELayer(16, squeeze_channels=8, act_cfg=(dict(type='ReLU'),
                                                 dict(type='HSigmoid', bias=3.0, divisor=6.0))),
        torch.nn.Conv2d(16, 4, 1)).eval()
    path = str(tmp_path / 'se.onnx')
    torch.onnx.export(model, torch.randn(1, 3, 32, 32), path, dynamo=False,
                      input_names=['input'])
    calib = [np.random.default_rng(i).standard_normal((1, 3, 32, 32)).astype(np.float32)
             for i in range(4)]
    out = str(tmp_path / 'se-int8.xml')
    with pytest.warns(UserWarning, match='NNCF bias correction failed'):
        quantize_model(path, out, calib, backend='openvino', keep_float=())
    assert 'bias correction off' in read_metadata(out)['quantized_by']
    assert any(op.get_type_name() == 'FakeQuantize'
               for op in ov.Core().read_model(out).get_ops())
    ref = model(torch.from_numpy(calib[0])).detach().numpy()
    got = _outputs(out, calib[:1], backend='openvino')
    assert np.abs(got - ref).max() <= 0.1 * np.abs(ref).max()


def test_the_route_follows_the_runtime_of_the_output_file(exported, tmp_path):
    from mmghost.quantize import default_backend, quantize_model
    from mmghost.runtime import read_metadata
    assert default_backend('a/m.xml') == 'openvino'
    assert default_backend('m.onnx') == 'onnxruntime'
    with pytest.raises(ValueError, match=r'as \.onnx .* or \.xml'):
        default_backend('m.bin')
    path, calib = exported
    out = str(tmp_path / 'm.onnx')
    assert quantize_model(path, out, calib[:2])['backend'] == 'onnxruntime'
    assert read_metadata(out)['quantized_by'].startswith('onnxruntime QDQ')
    with pytest.raises(ValueError, match=r'the onnxruntime route writes \.onnx files'):
        quantize_model(path, str(tmp_path / 'n.xml'), calib, backend='onnxruntime')
    pytest.importorskip('nncf')
    pytest.importorskip('openvino')
    out = str(tmp_path / 'm.xml')
    assert quantize_model(path, out, calib[:2])['backend'] == 'openvino'
    assert read_metadata(out)['quantized_by'].startswith('nncf')


def test_a_channel_aligned_input_is_quantized_with_a_warning(tmp_path):
    from mmghost.export import export_onnx
    from mmghost.quantize import float_nodes, quantize_model
    model = build(classifier_cfg('GhostNetV2', 0.5)).eval()
    path = str(tmp_path / 'aligned.onnx')
    export_onnx(model, path, shape=(64, 64))  # aligned for ONNX Runtime's fp32 kernels
    assert float_nodes(path, ['dfc'])  # the DFC layer group is still found by name
    calib = [np.zeros((1, 3, 64, 64), np.float32)]
    with pytest.warns(UserWarning, match='INT8 runs faster from the plain layout'):
        quantize_model(path, str(tmp_path / 'q.onnx'), calib)


def test_bad_input_writes_nothing(exported, tmp_path):
    from mmghost.quantize import quantize_model
    path, calib = exported
    out = tmp_path / 'x.onnx'
    with pytest.raises(ValueError, match='calibration set is empty'):
        quantize_model(path, str(out), [])
    with pytest.raises(ValueError, match='unknown quantization backend'):
        quantize_model(path, str(out), calib, backend='tensorrt')
    with pytest.raises(ValueError, match=r'\.xml'):
        quantize_model(path, str(out), calib, backend='openvino')
    with pytest.raises(ValueError, match="unknown calibration method 'kl'"):
        quantize_model(path, str(out), calib, method='kl')
    assert not out.exists() and os.listdir(tmp_path) == []


def test_percentile_calibration_narrows_the_ranges_minmax_takes(exported, tmp_path):
    """A 99.999th-percentile range clips the rare outliers a min/max range stretches for:
    the activation scales of the percentile model are never wider, some narrower."""
    from mmghost.quantize import quantize_model
    from mmghost.runtime import read_metadata
    path, calib = exported
    scales = {}
    for method in ('minmax', 'percentile'):
        out = str(tmp_path / f'{method}.onnx')
        quantize_model(path, out, calib, method=method, keep_float=[])
        assert method in read_metadata(out)['quantized_by']
        model = onnx.load(out)
        inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        scales[method] = {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node
                          if n.op_type == 'QuantizeLinear' and inits[n.input[1]].size == 1}
    common = scales['minmax'].keys() & scales['percentile'].keys()
    assert len(common) > 10
    ratio = np.array([scales['percentile'][k] / scales['minmax'][k] for k in common])
    assert (ratio <= 1 + 1e-6).all() and (ratio < 0.99).any()
