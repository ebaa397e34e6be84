"""mmghost.export.onnx_export: deploy-form export, onnxruntime parity at odd and non-square
sizes (the DFC gate's Resize), backbone outputs, bad shapes."""
import json
import os.path as osp

import pytest
import torch
from helpers import build, classifier_cfg, randomize_bn

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Odd, non-square and at the bound: the DFC pool floors 97 -> 48 at stride 2, ... and the
# nearest Resize brings the gate back to the odd size.
SIZES = [(64, 64), (97, 131), (65, 65), (33, 47), (131, 40)]
RTOL = 1e-4


def calibrated(model, size=128):
    """Random BN statistics calibrated on 8 random images, so the deep maps keep a sane
    scale (fewer samples leave near-zero variances that amplify float round-off, and then
    the comparison would depend on the thread count's summation order)."""
    x = torch.randn(8, 3, size, size)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor') if hasattr(m, 'head') else m(x))
    return model.eval()


def conv_count(proto):
    return sum(n.op_type == 'Conv' for n in proto.graph.node)


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.fixture(scope='module')
def v3_classifier():
    return calibrated(build(classifier_cfg('GhostNetV3', 0.5)))


def test_v3_classifier_exports_the_deploy_form_and_matches_at_odd_sizes(
        v3_classifier, tmp_path):
    from mmghost import switch_to_deploy
    from mmghost.export import check_onnx, compare_onnx, export_onnx
    from mmghost.runtime import read_metadata
    model = v3_classifier
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = str(tmp_path / 'v3.onnx')
    info = export_onnx(model, path, shape=(64, 64), dynamic_hw=True)
    # The caller's model is untouched (a copy was fused).
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    proto = onnx.load(path)
    deployed = switch_to_deploy(build(classifier_cfg('GhostNetV3', 0.5)))
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in deployed.modules())
    assert conv_count(proto) == n_convs  # fused: one conv per deploy conv, no branches
    assert [i.name for i in proto.graph.input] == ['input']
    assert dims(proto.graph.input[0]) == ['batch', 3, 'height', 'width']
    assert [o.name for o in proto.graph.output] == ['logits'] == info['output_names']
    assert dims(proto.graph.output[0]) == ['batch', 1000]
    meta = read_metadata(path)
    assert meta['task'] == 'classifier' and meta['backbone'] == 'GhostNetV3'
    assert meta['deploy'] == 'true' and meta['min_input_size'] == '33'
    assert meta['dynamic_hw'] == 'true' and meta['export_shape'] == '64x64'
    # onnxruntime == PyTorch (training form: fusion + export together) at batch 2.
    inputs = [torch.randn(2, 3, h, w) for h, w in SIZES]
    records = compare_onnx(path, model, inputs)
    for r, (h, w) in zip(records, SIZES):
        assert r['shape'] == (2, 3, h, w)
        assert r['max_rel_diff'] <= RTOL, r
    # Independently of compare_onnx/check_onnx: onnxruntime's own session against PyTorch.
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    worst = 0.0
    for x in inputs:
        got = session.run(None, {'input': x.numpy()})[0]
        with torch.no_grad():
            ref = model(x, mode='tensor').numpy()
        assert abs(got - ref).max() <= RTOL * abs(ref).max()
        worst = max(worst, float(abs(got - ref).max()))
    assert check_onnx(path, model, inputs, rtol=RTOL) == pytest.approx(worst, rel=0.1, abs=1e-7)
    assert not model.training  # the caller's mode is kept


def test_v2_classifier_dfc_resize_is_nearest_asymmetric_floor(tmp_path):
    from mmghost.export import check_onnx, dfc_input_sizes, export_onnx, resize_attributes
    model = calibrated(build(classifier_cfg('GhostNetV2', 0.5)))
    path = str(tmp_path / 'v2.onnx')
    # The plain layout: the aligned one (the default) adds a Resize to each SE gate.
    export_onnx(model, path, shape=(97, 131), dynamic_hw=True, opset=13, align_channels=0)
    resizes = resize_attributes(path)
    assert len(resizes) == len(dfc_input_sizes(model, 64)) == 14  # one per DFC gate
    for attrs in resizes:  # PyTorch's legacy nearest: src = floor(dst * in / out)
        assert attrs['mode'] == 'nearest'
        assert attrs['coordinate_transformation_mode'] == 'asymmetric'
        assert attrs['nearest_mode'] == 'floor'
    # The sizes come from the gated tensor's shape at run time (not frozen at 97x131).
    proto = onnx.load(path)
    resize_nodes = [n for n in proto.graph.node if n.op_type == 'Resize']
    consts = {i.name for i in proto.graph.initializer} | {
        o for n in proto.graph.node if n.op_type == 'Constant' for o in n.output}
    assert all(n.input[3] and n.input[3] not in consts for n in resize_nodes)
    inputs = [torch.randn(2, 3, h, w) for h, w in SIZES]
    check_onnx(path, model, inputs, rtol=RTOL)


def test_backbone_only_exports_one_named_output_per_out_index(tmp_path):
    from mmghost.export import check_onnx, export_onnx
    from mmghost.runtime import read_metadata
    backbone = build(dict(type='mmghost.GhostNetV3', widen_factor=0.5,
                          out_indices=(2, 4, 6, 9)))
    calibrated(backbone)
    path = str(tmp_path / 'backbone.onnx')
    info = export_onnx(backbone, path, shape=(64, 80), dynamic_hw=True, backbone_only=True)
    names = ['stage2', 'stage4', 'stage6', 'stage9']
    assert info['output_names'] == names
    proto = onnx.load(path)
    assert [o.name for o in proto.graph.output] == names
    assert dims(proto.graph.output[3]) == ['batch', 480, 'stage9_height', 'stage9_width']
    meta = read_metadata(path)
    assert json.loads(meta['output_strides']) == [4, 8, 16, 32]
    assert json.loads(meta['output_channels']) == [12, 20, 56, 480]
    inputs = [torch.randn(2, 3, h, w) for h, w in SIZES]
    backbone.train()  # compared in eval mode, handed back in train mode
    check_onnx(path, backbone, inputs, rtol=RTOL)
    assert backbone.training
    # A RepGhostNet backbone (no DFC: the lower bound is its total stride), static batch.
    rep = calibrated(build(dict(type='mmghost.RepGhostNet', widen_factor=0.5,
                                out_indices=(4, 9))))
    path = str(tmp_path / 'rep.onnx')
    info = export_onnx(rep, path, shape=(32, 32), dynamic_batch=False, dynamic_hw=True)
    assert info['min_input_size'] == 32 and info['output_names'] == ['stage4', 'stage9']
    check_onnx(path, rep, [torch.randn(1, 3, 33, 47), torch.randn(1, 3, 32, 32)], rtol=RTOL)
    with pytest.raises(ValueError, match='below the graph'):
        check_onnx(path, rep, torch.randn(1, 3, 17, 23))
    with pytest.raises(ValueError, match='static batch of 1'):
        check_onnx(path, rep, torch.randn(2, 3, 32, 32))


def test_bad_shapes_and_arguments_are_refused(v3_classifier, tmp_path):
    from mmghost.export import check_onnx, export_onnx, min_input_size
    model = v3_classifier
    assert min_input_size(model) == 33
    path = str(tmp_path / 'x.onnx')
    with pytest.raises(ValueError, match=r'export shape 32x32 is too small.*H, W >= 33'):
        export_onnx(model, path, shape=32, dynamic_hw=True)
    for shape in [(0, 64), (64, ), (64.5, 64), 'a']:
        with pytest.raises(ValueError, match='shape must be'):
            export_onnx(model, path, shape=shape)
    with pytest.raises(ValueError, match=r'opset must be an int in \[11, 20\]'):
        export_onnx(model, path, shape=64, opset=9)
    assert not osp.exists(path) and not list(tmp_path.iterdir())
    # A static graph is exact at its own shape, even one under the dynamic bound ...
    export_onnx(model, path, shape=(32, 48), dynamic_hw=False)
    check_onnx(path, model, torch.randn(2, 3, 32, 48), rtol=RTOL)
    # ... and refuses any other.
    with pytest.raises(ValueError, match='static H x W of 32x48'):
        check_onnx(path, model, torch.randn(2, 3, 64, 64))
    export_onnx(model, path, shape=64, dynamic_hw=True)
    with pytest.raises(ValueError, match="below the graph's min_input_size 33"):
        check_onnx(path, model, torch.randn(1, 3, 32, 64))
