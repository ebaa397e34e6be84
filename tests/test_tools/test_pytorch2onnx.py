"""mmghost.utils.onnx and tools/deployment/pytorch2onnx.py: deploy-form export, onnxruntime
parity at odd and non-square sizes (the DFC gate's Resize), backbone outputs, the CLI."""
import json
import os.path as osp

import pytest
import torch
from helpers import build, classifier_cfg, randomize_bn
from tool_runner import run_tools

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx.py')
SHAPES_CFG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_shapes-demo.py')

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
    from mmghost.utils.onnx import check_onnx, compare_onnx, export_onnx, read_metadata
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
    assert check_onnx(path, model, inputs, rtol=RTOL) == max(r['max_abs_diff'] for r in records)
    assert not model.training  # the caller's mode is kept


def test_v2_classifier_dfc_resize_is_nearest_asymmetric_floor(tmp_path):
    from mmghost.utils.onnx import (check_onnx, dfc_input_sizes, export_onnx,
                                    resize_attributes)
    model = calibrated(build(classifier_cfg('GhostNetV2', 0.5)))
    path = str(tmp_path / 'v2.onnx')
    export_onnx(model, path, shape=(97, 131), dynamic_hw=True, opset=13)
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
    from mmghost.utils.onnx import check_onnx, export_onnx, read_metadata
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
    from mmghost.utils.onnx import check_onnx, export_onnx, min_input_size
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


def test_cli_exports_and_checks_end_to_end(tmp_path):
    cfg = tmp_path / 'tiny_v2.py'
    cfg.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(_delete_=True, type='mmghost.GhostNetV2', widen_factor=0.5,
                           out_indices=(9, )),
             head=dict(in_channels=480, mid_channels=[32]))
""")
    v3s = tmp_path / 'tiny_v3s.py'
    v3s.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(widen_factor=0.5, out_indices=(3, 7)),
             head=dict(in_channels=80, mid_channels=[32]))
""")
    code = f'''
import torch
from helpers import randomize_bn
from mmghost import switch_to_deploy
from mmghost.utils.deploy import build_model, load_config
torch.manual_seed(0)
for name in ('tiny_v2', 'tiny_v3s'):
    model = build_model(load_config(name + '.py'))
    x = torch.randn(4, 3, 96, 96)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor'))
    torch.save(dict(state_dict=model.state_dict()), name + '.pth')
    # the deploy form of the same weights
    torch.save(dict(state_dict=switch_to_deploy(model).state_dict()), name + '_deploy.pth')
rc = {{}}
rc['v2'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'v2.onnx', '--shape', '64', '--dynamic-hw',
                '--check-shapes', '97,131', '65x65', '33,47', '--opset', '17')
rc['v3s_deploy'] = tool({TOOL!r}, 'tiny_v3s.py', 'tiny_v3s_deploy.pth', 'v3s.onnx', '--shape', '32',
                        '--backbone-only', '--dynamic-hw', '--check-shapes', '7,9', '31,33')
rc['static'] = tool({TOOL!r}, 'tiny_v3s.py', 'tiny_v3s.pth', 'static.onnx', '--shape', '32', '40',
                    '--no-dynamic-batch')
kw = dict(check=False)
rc['small'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'small.onnx', '--shape', '32',
                   '--dynamic-hw', **kw)
rc['small_check'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'small2.onnx', '--shape', '64',
                         '--dynamic-hw', '--check-shapes', '31,64', **kw)
rc['static_check'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'static2.onnx', '--shape', '64',
                          '--check-shapes', '97,131', **kw)
rc['bad_hw'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'bad.onnx', '--dynamic-hw',
                    '--check-shapes', '97;131', **kw)
rc['mismatch'] = tool({TOOL!r}, 'tiny_v3s.py', 'tiny_v2.pth', 'mismatch.onnx', **kw)
result(**{{k: v[0] for k, v in rc.items()}})
'''
    res, out = run_tools(code, tmp_path)
    assert res['v2'] == res['v3s_deploy'] == res['static'] == 0, out[-4000:]
    for key in ('small', 'small_check', 'static_check', 'bad_hw', 'mismatch'):
        assert res[key] != 0, (key, out[-4000:])
    for name in ('small', 'small2', 'static2', 'bad', 'mismatch'):
        assert not (tmp_path / f'{name}.onnx').exists(), name
    assert not list(tmp_path.glob('.*.tmp'))
    # Every size was checked and printed (batch 2 with a dynamic batch).
    for size in ('2x3x64x64', '2x3x97x131', '2x3x65x65', '2x3x33x47', '2x3x32x32', '2x3x7x9',
                 '2x3x31x33', '1x3x32x40'):
        assert f'onnxruntime vs PyTorch at {size}: max abs diff' in out, (size, out[-4000:])
    diffs = [float(line.split('relative ')[1].rstrip(')'))
             for line in out.splitlines() if 'onnxruntime vs PyTorch at' in line]
    assert len(diffs) == 8 and max(diffs) <= RTOL
    assert out.count('mode=nearest, coordinate_transformation_mode=asymmetric, '
                     'nearest_mode=floor') == 3
    assert 'mean [125.3, 123.0, 113.9], std [63.0, 62.1, 66.7], bgr_to_rgb true' in out
    for message in ('32x32 below the min_input_size 33 of this model',
                    '31x64 below the min_input_size 33 of this model',
                    'need --dynamic-hw: a static graph runs only at its export shape 64x64',
                    "expected H,W (or HxW, or S), got '97;131'",
                    'tiny_v2.pth does not match the model of the config'):
        assert message in out, (message, out[-4000:])
    from mmghost.utils.onnx import read_metadata
    meta = read_metadata(str(tmp_path / 'v3s.onnx'))
    assert meta['task'] == 'backbone' and meta['outputs'] == '["stage3", "stage7"]'
    assert json.loads(meta['mean']) == [125.3, 123.0, 113.9] and meta['bgr_to_rgb'] == 'true'
    assert meta['min_input_size'] == '5'
    static = read_metadata(str(tmp_path / 'static.onnx'))
    assert static['dynamic_batch'] == 'false' and static['dynamic_hw'] == 'false'
    assert static['task'] == 'classifier' and 'min_input_size' not in static
