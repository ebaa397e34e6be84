"""Op profiles of exported models: ONNX Runtime's profiler and OpenVINO's counters, per op
type, in a torch-free process, and tools/analysis_tools/profile_ops.py around them."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Net(torch.nn.Module):
    """Convs, a channel concat and a nearest 2x upsampling: ops of different types."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)

    def forward(self, x):
        y = torch.relu(self.a(x))
        y = torch.cat([y, self.b(y)], dim=1)
        return torch.nn.functional.interpolate(y, scale_factor=2, mode='nearest')


@pytest.fixture(scope='module')
def net_onnx(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('prof') / 'net.onnx')
    torch.onnx.export(_Net().eval(), torch.randn(1, 3, 40, 40), path, dynamo=False,
                      input_names=['input'], dynamic_axes={'input': {0: 'n'}})
    return path


@pytest.mark.parametrize('backend, conv', [('onnxruntime', 'Conv'),
                                           ('openvino', 'Convolution')])
def test_profile_splits_the_run_by_op_type(net_onnx, backend, conv):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    from mmghost.analysis.op_profile import WALL, profile_ops_in_subprocess
    out = profile_ops_in_subprocess({'net': (backend, net_onnx, [2, 3, 40, 40])},
                                    num_threads=1, runs=5, warmup=2)['net']
    assert conv in out and out[conv] > 0
    ops = {k: v for k, v in out.items() if k != WALL}
    assert len(ops) >= 2  # the concat / resize show up beside the convs
    assert 0 < sum(ops.values()) <= out[WALL] * 1.05  # the ops run inside the wall time


def test_table_lists_each_op_then_the_sums():
    from mmghost.analysis.op_profile import WALL, op_profile_table
    table = op_profile_table({'a': {'Conv': 2.0, 'Concat': 0.5, 'Tiny': 0.01, WALL: 3.0},
                              'b': {'Conv': 1.0, 'Mul': 0.2, WALL: 1.5}}).splitlines()
    assert table[0] == '| op type | a | b |'
    assert table[2] == '| Conv | 2.00 | 1.00 |'
    assert table[3] == '| Concat | 0.50 | – |'
    assert table[5] == '| other | 0.01 | – |'  # below 0.05 ms everywhere
    assert table[-2] == '| **sum of ops** | 2.51 | 1.20 |'
    assert table[-1] == '| **wall time per run** | 3.00 | 1.50 |'


def test_unknown_backend_is_refused():
    from mmghost.analysis.op_profile import profile_ops_in_subprocess
    with pytest.raises(ValueError, match=r"no op profiler for \['ncnn'\]"):
        profile_ops_in_subprocess({'x': ('ncnn', 'x.param', [1, 3, 8, 8])}, 1)


def test_tool_profiles_a_file_at_each_batch(net_onnx, tmp_path):
    tool = osp.join(REPO, 'tools', 'analysis_tools', 'profile_ops.py')
    proc = subprocess.run([sys.executable, tool, net_onnx, '--shape', '40', '--batch', '1', '3',
                           '--backends', 'onnxruntime', '--runs', '3', '--warmup', '1',
                           '--out-md', str(tmp_path / 'p.md')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / 'p.md').read_text()
    assert 'onnxruntime, batch 1 (ms per run)' in text and 'onnxruntime, batch 3' in text
    assert '| op type | net.onnx |' in text
    bad = subprocess.run([sys.executable, tool, str(tmp_path / 'missing.onnx')],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and 'missing.onnx: no such exported model file' in bad.stderr
