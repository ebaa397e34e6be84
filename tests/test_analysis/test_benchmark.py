"""The benchmark runner in its parts: model specs, building, variants, unsupported rows, top-1
from the zoos' facts."""
import os.path as osp
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
V3 = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'ghostnetv3.py')


def test_benchmark_specs_are_checked_before_anything_is_built(monkeypatch):
    from mmghost.analysis import benchmark as bm
    assert bm.parse_spec(V3 + '@both').forms == ('train', 'deploy')
    assert bm.parse_spec('timm:ghostnet_050@ort').forms == ('ort', )
    assert bm.model_label('mmpretrain::mobileone/mobileone-s0_8xb32_in1k.py') == 'mobileone-s0'
    with pytest.raises(bm.BenchmarkError, match='no such config file'):
        bm.build_variants([V3, 'configs/nope.py@deploy'])
    with pytest.raises(bm.BenchmarkError, match="unknown form ''"):
        bm.parse_spec(V3 + '@')
    with pytest.raises(bm.BenchmarkError, match='give a timm model name'):
        bm.parse_spec('timm:@deploy')
    monkeypatch.setitem(sys.modules, 'timm', None)  # as if timm were not installed
    with pytest.raises(bm.BenchmarkError, match='pip install timm'):
        bm.build_model('timm:ghostnet_050')


def test_benchmark_unknown_timm_model_is_a_clear_error():
    pytest.importorskip('timm')
    from mmghost.analysis import benchmark as bm
    with pytest.raises(bm.BenchmarkError, match='timm:no_such_net'):
        bm.build_model('timm:no_such_net')


class _NoHalf(torch.nn.Module):
    """Has no fp16 kernel, like mmdet's NMS (which wants fp32)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        if x.dtype == torch.float16:
            raise RuntimeError('expected scalar type Float but found Half')
        return self.conv(x)


def test_benchmark_reports_an_unsupported_dtype_instead_of_crashing():
    from mmghost.analysis import benchmark as bm
    variants = [bm.Variant('nohalf', 'nohalf', 'train', _NoHalf().eval())]
    rows = bm.time_variants(variants, dtypes=('fp16', 'fp32', 'bf16'), batches=(1, 2),
                            shape=(16, 16), warmup=1, rounds=1, repeats=1)
    status = {(r['dtype'], r['batch']): (r['status'], r['reason']) for r in rows}
    for b in (1, 2):
        assert status[('fp16', b)] == ('unsupported',
                                       'RuntimeError: expected scalar type Float but found Half')
        assert status[('fp32', b)][0] == status[('bf16', b)][0] == 'ok'
    # the ratio is taken to the first row that ran
    assert [r['ratio'] for r in rows if r['dtype'] == 'fp32'] == [1.0, 1.0]
    from mmghost.analysis import markdown_table
    table = markdown_table([r for r in rows if r['batch'] == 1])
    assert '| nohalf | train | fp16 | 1 | 112 | 21.2K | unsupported: ' in table
    assert 'unsupported: RuntimeError: expected scalar type Float but found Half' in table


def test_benchmark_peers_deploy_and_top1():
    from mmghost.analysis import benchmark as bm
    peers = {
        'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py': ('MobileNetV2 1.0x', 71.86),
        'mmpretrain::mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py': ('MobileNetV3-L', 74.04),
        'mmpretrain::mobileone/mobileone-s0_8xb32_in1k.py': ('MobileOne-S0', 71.34),
        'mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py':
        ('ShuffleNetV2 1.0x', 69.55),
        V3: ('GhostNetV3 1.0x', 77.1),
        osp.join(REPO, 'configs', 'detection', 'retinanet_ghostv3.py'): (None, None),
    }
    from mmghost.analysis.top1 import arch_name, lookup_top1
    for name, (arch, top1) in peers.items():
        assert arch_name(name) == arch, name
        assert lookup_top1(bm.model_label(name), name, arch)[0] == top1, name
    # mmpretrain's numbers come from its metafiles (the best entry of that config)
    assert lookup_top1('mobilenet-v3-large',
                       'mmpretrain::mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py',
                       'MobileNetV3-L')[1] == \
        'mmpretrain model zoo, mobilenet-v3-large_3rdparty_in1k'
    t = 'timm:ghostnetv3_130'
    assert lookup_top1(t, t, arch_name(t))[0] == 79.1
    # timm's own weights: timm's number; a width timm has no weights of: the paper's
    t = 'timm:repghostnet_058'
    assert lookup_top1(t, t, arch_name(t))[0] == 68.938
    t = 'timm:mobilenetv3_large_100'  # no zoo states it: no number rather than a made-up one
    assert lookup_top1(t, t, arch_name(t)) == (None, '')
    assert lookup_top1('mobileone-s0', 'mmpretrain::mobileone/mobileone-s0_8xb32_in1k.py',
                       'MobileOne-S0', {'mobileone-s0': 70.0}) == (70.0, 'given with --top1')
    # @deploy of mmpretrain's re-parameterizable MobileOne: its own switch_to_deploy
    (train, deploy) = [v.model for v in bm.build_variants(
        ['mmpretrain::mobileone/mobileone-s0_8xb32_in1k.py@both'])]
    assert sum(p.numel() for p in deploy.parameters()) == 2078504  # the zoo's deploy count
    assert sum(p.numel() for p in train.parameters()) > 2078504
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want, got = train(x, mode='tensor'), deploy(x, mode='tensor')
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-4


def test_benchmark_inference_and_exported_forms_side_by_side():
    """@inference (BN folded, NHWC) computes what the model computes; @exported gives the four
    runtime rows (a detector exported whole), timed in one table with the FLOP floor."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('openvino')
    pytest.importorskip('nncf')
    from mmghost.analysis import benchmark as bm
    cls = osp.join(REPO, 'configs', 'classification', 'demo', 'ghostnetv3-small_shapes-demo.py')
    det = osp.join(REPO, 'configs', 'detection', 'demo', 'retinanet_ghostv3_demo.py')
    variants = bm.build_variants([cls, cls + '@inference', cls + '@exported', det + '@ort'])
    train, fast = variants[0].model, variants[1].model
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = train(x, mode='tensor')
        got = fast(x.contiguous(memory_format=torch.channels_last), mode='tensor')
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-4
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    rows = bm.time_variants(variants, batches=(2, ), shape=(64, 64), warmup=1, rounds=1,
                            repeats=1, flop_floor=True)
    forms = [(r['model'], r['form'], r['status']) for r in rows]
    assert [f for _, f, _ in forms] == ['train', 'inference', 'ort', 'ort-int8', 'openvino',
                                        'openvino-int8', 'ort']
    assert all(s == 'ok' for _, _, s in forms), [r['reason'] for r in rows]
    assert rows[-1]['model'] == 'retinanet_ghostv3_demo'  # whole detector: decoding and NMS
    assert all(r['median_ms'] > 0 for r in rows) and rows[0]['floor_ratio'] > 0
    assert rows[0]['ratio'] == 1.0 and rows[0]['matmul_gflops'] > 0


def test_benchmark_ncnn_rows_time_a_classifier_and_a_light_detector():
    """@ncnn: the deploy form converted by pnnx and timed in the torch-free process beside the
    ONNX Runtime row (a detector up to its head's raw maps)."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('pnnx')
    pytest.importorskip('ncnn')
    from mmghost.analysis import benchmark as bm
    cls = osp.join(REPO, 'configs', 'classification', 'demo', 'ghostnetv3-small_shapes-demo.py')
    assert bm.parse_spec(cls + '@ncnn').forms == ('ncnn', )
    det = osp.join(REPO, 'configs', 'detection', 'rtmdet-tiny_ghostv3-ghostpafpn_320.py')
    rows = bm.run_benchmark([cls + '@ort', cls + '@ncnn', det + '@ncnn'], batches=(2, ),
                            shape=(64, 64), warmup=1, rounds=1, repeats=1)
    got = [(r['form'], r['status']) for r in rows]
    assert got == [('ort', 'ok'), ('ncnn', 'ok'), ('ncnn', 'ok')], [r['reason'] for r in rows]
    assert all(r['median_ms'] > 0 for r in rows)
    assert rows[1]['provider'] == 'ncnn' and rows[1]['macs'] == rows[0]['macs']
