"""tools/deployment/pytorch2onnx.py: export, check and refusals from the command line."""
import json
import os.path as osp

import pytest
from tool_runner import run_tools

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx.py')
SHAPES_CFG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_shapes-demo.py')
RTOL = 1e-4


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
from mmghost.models.utils import build_from_config, load_config
torch.manual_seed(0)
for name in ('tiny_v2', 'tiny_v3s'):
    model = build_from_config(load_config(name + '.py'))
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
rc['plain'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'plain.onnx', '--shape', '64',
                   '--align-channels', '0')
kw = dict(check=False)
rc['bad_align'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'bad2.onnx', '--align-channels',
                       '-1', **kw)
rc['small'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'small.onnx', '--shape', '32',
                   '--dynamic-hw', **kw)
rc['small_check'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'small2.onnx', '--shape', '64',
                         '--dynamic-hw', '--check-shapes', '31,64', **kw)
rc['static_check'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'static2.onnx', '--shape', '64',
                          '--check-shapes', '97,131', **kw)
rc['bad_hw'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'bad.onnx', '--dynamic-hw',
                    '--check-shapes', '97;131', **kw)
rc['mismatch'] = tool({TOOL!r}, 'tiny_v3s.py', 'tiny_v2.pth', 'mismatch.onnx', **kw)
rc['ov_suffix'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'ov1.onnx', '--shape', '64',
                       '--openvino', 'ov1.bin', **kw)
import sys
saved = sys.modules.pop('openvino', None)
sys.modules['openvino'] = None  # as if openvino were not installed
rc['no_openvino'] = tool({TOOL!r}, 'tiny_v2.py', 'tiny_v2.pth', 'ov2.onnx', '--shape', '64',
                         '--openvino', 'ov2.xml', **kw)
del sys.modules['openvino']
if saved is not None:
    sys.modules['openvino'] = saved
result(**{{k: v[0] for k, v in rc.items()}})
'''
    res, out = run_tools(code, tmp_path)
    assert res['v2'] == res['v3s_deploy'] == res['static'] == res['plain'] == 0, out[-4000:]
    for key in ('small', 'small_check', 'static_check', 'bad_hw', 'mismatch', 'ov_suffix',
                'no_openvino', 'bad_align'):
        assert res[key] != 0, (key, out[-4000:])
    for name in ('small', 'small2', 'static2', 'bad', 'bad2', 'mismatch', 'ov1', 'ov2'):
        assert not (tmp_path / f'{name}.onnx').exists(), name
    assert not list(tmp_path.glob('.*.tmp'))
    # Every size was checked and printed (batch 2 with a dynamic batch).
    for size in ('2x3x64x64', '2x3x97x131', '2x3x65x65', '2x3x33x47', '2x3x32x32', '2x3x7x9',
                 '2x3x31x33', '1x3x32x40'):
        assert f'onnxruntime vs PyTorch at {size}: max abs diff' in out, (size, out[-4000:])
    diffs = [float(line.split('relative ')[1].rstrip(')'))
             for line in out.splitlines() if 'onnxruntime vs PyTorch at' in line]
    assert len(diffs) == 9 and max(diffs) <= RTOL
    assert out.count('mode=nearest, coordinate_transformation_mode=asymmetric, '
                     'nearest_mode=floor') == 4  # v2, v3s_deploy, static, plain
    assert 'mean [125.3, 123.0, 113.9], std [63.0, 62.1, 66.7], bgr_to_rgb true' in out
    for message in ('32x32 below the min_input_size 33 of this model',
                    '31x64 below the min_input_size 33 of this model',
                    'need --dynamic-hw: a static graph runs only at its export shape 64x64',
                    "expected H,W (or HxW, or S), got '97;131'",
                    'tiny_v2.pth does not match the model of the config',
                    '--openvino writes an IR (.xml + .bin), got ov1.bin',
                    'this backend needs openvino: pip install openvino',
                    '--align-channels takes 0 (plain layout) or a channel block such as 16'):
        assert message in out, (message, out[-4000:])
    from mmghost.runtime import read_metadata
    # GhostNets are channel-aligned for ONNX Runtime unless asked otherwise.
    assert read_metadata(str(tmp_path / 'v2.onnx'))['channel_layout'] == \
        'aligned to 16 channels'
    assert read_metadata(str(tmp_path / 'plain.onnx'))['channel_layout'] == 'plain'
    meta = read_metadata(str(tmp_path / 'v3s.onnx'))
    assert meta['task'] == 'backbone' and meta['outputs'] == '["stage3", "stage7"]'
    assert json.loads(meta['mean']) == [125.3, 123.0, 113.9] and meta['bgr_to_rgb'] == 'true'
    assert meta['min_input_size'] == '5'
    static = read_metadata(str(tmp_path / 'static.onnx'))
    assert static['dynamic_batch'] == 'false' and static['dynamic_hw'] == 'false'
    assert static['task'] == 'classifier' and 'min_input_size' not in static
