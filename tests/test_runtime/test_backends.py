"""mmghost.runtime.backends: the backends refuse what they cannot run with one clear message:
an unknown backend, a missing file, a runtime that is not installed, and a graph with an op
outside the ONNX standard."""
import sys

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')


def _graph(path, op='Relu', domain=''):
    from onnx import TensorProto, helper
    node = helper.make_node(op, ['input'], ['out'], domain=domain)
    graph = helper.make_graph([node], 'g',
                              [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                             [1, 3, 4, 4])],
                              [helper.make_tensor_value_info('out', TensorProto.FLOAT,
                                                             [1, 3, 4, 4])])
    opsets = [helper.make_opsetid('', 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_a_standard_graph_runs_and_a_foreign_op_is_named(backend, tmp_path):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.runtime import create_backend
    run = create_backend(backend, _graph(tmp_path / 'relu.onnx'))
    x = np.linspace(-1, 1, 48, dtype=np.float32).reshape(1, 3, 4, 4)
    np.testing.assert_array_equal(run(x)[0], np.maximum(x, 0))
    path = _graph(tmp_path / 'foreign.onnx', 'MMCVRoiAlign', 'mmcv')
    with pytest.raises(ValueError, match=f'{backend} cannot load .*foreign.onnx.*outside the '
                                         f'ONNX standard .*mmcv::MMCVRoiAlign'):
        create_backend(backend, path)


def test_unknown_backend_missing_file_and_missing_runtime(tmp_path, monkeypatch):
    from mmghost.runtime import create_backend
    path = _graph(tmp_path / 'relu.onnx')
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        create_backend('tensorrt', path)
    with pytest.raises(FileNotFoundError, match='model file .*nope.onnx does not exist'):
        create_backend('onnxruntime', str(tmp_path / 'nope.onnx'))
    for module in ('openvino', 'onnxruntime'):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it now fails
    with pytest.raises(ImportError, match=r'needs openvino: pip install openvino .*\[deploy\]'):
        create_backend('openvino', path)
    with pytest.raises(ImportError, match='needs onnxruntime: pip install onnxruntime'):
        create_backend('onnxruntime', path)


def test_openvino_computes_in_float32_unless_asked(tmp_path):
    """OpenVINO's CPU default is bfloat16 where the CPU has AVX-512 BF16 or AMX; the backend
    asks for float32, so a product of random floats matches numpy's to float32 rounding."""
    ov = pytest.importorskip('openvino')
    from onnx import TensorProto, helper, numpy_helper
    from mmghost.runtime import create_backend
    from mmghost.runtime.backends import OpenVINOBackend
    weight = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node('MatMul', ['input', 'w'], ['out'])], 'g',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 64])],
        [numpy_helper.from_array(weight, 'w')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    path = str(tmp_path / 'matmul.onnx')
    onnx.save(model, path)
    x = np.random.default_rng(1).standard_normal((1, 64)).astype(np.float32)
    run = create_backend('openvino', path)
    assert run.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.f32
    np.testing.assert_allclose(run(x)[0], x @ weight, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="unknown OpenVINO inference precision 'int4'"):
        OpenVINOBackend(path, precision='int4')
