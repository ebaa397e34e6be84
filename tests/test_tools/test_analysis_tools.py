"""tools/analysis_tools: get_flops.py numbers and benchmark_latency.py's side-by-side table."""
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
from helpers import SPEC

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
V3 = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'ghostnetv3.py')
REP = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'repghostnet.py')


def run(args):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize('config,family', [(V3, 'GhostNetV3'), (REP, 'RepGhostNet')])
def test_get_flops_reports_the_spec_numbers_in_both_forms(config, family):
    """Exactly the reference implementations' counts (spec), training and deploy form."""
    for deploy in (False, True):
        out = run([osp.join(TOOLS, 'get_flops.py'), config] + (['--deploy'] if deploy else []))
        m = re.search(r'exact: ([\d,]+) params, ([\d,]+) MACs', out)
        params, macs = (int(g.replace(',', '')) for g in m.groups())
        train_p, deploy_p, train_m, deploy_m = SPEC[family][1.0]
        assert (params, macs) == ((deploy_p, deploy_m) if deploy else (train_p, train_m)), out


def _table(out, title):
    """The rows of the markdown table printed under ``title``, as lists of cells."""
    table = out.split(title + '\n')[1].split('\n\n')[0]
    return [[c.strip() for c in r.strip('|').split('|')] for r in table.splitlines()[2:]]


def test_benchmark_latency_prints_a_table_with_ratios_to_the_first_model():
    out = run([osp.join(TOOLS, 'benchmark_latency.py'), V3, V3 + '@deploy', '--shape', '64',
               '--part', 'both', '--warmup', '1', '--rounds', '1', '--repeats', '2',
               '--threads', '1'])
    for part in ('backbone', 'model'):
        cells = _table(out, f'{part} latency, batch 1')
        assert [c[:4] for c in cells] == [['ghostnetv3', 'train', 'fp32', '1'],
                                          ['ghostnetv3', 'deploy', 'fp32', '1']], cells
        assert cells[0][-1] == '1.00' and float(cells[1][-1]) > 0
        params = [float(c[4].rstrip('M')) for c in cells]
        macs = [float(c[5].rstrip('M')) for c in cells]
        assert params[0] > params[1] and macs[0] > macs[1]  # deploy is smaller


def test_benchmark_latency_batches_dtypes_forms_timm_ort_and_outputs(tmp_path):
    """@both, @ort and a timm model, in 2 dtypes x 2 batch sizes, NHWC; md, json and png.

    RepGhostNet: re-parameterizable and quicker to trace (for the MACs) than GhostNetV3.
    """
    try:
        import timm  # noqa: F401
        models = [REP + '@both', REP + '@ort', 'timm:ghostnet_050']
    except ImportError:
        models = [REP + '@both', REP + '@ort']
    md, js, png = (str(tmp_path / n) for n in ('lat.md', 'lat.json', 'lat.png'))
    out = run([osp.join(TOOLS, 'benchmark_latency.py')] + models + [
        '--shape', '64', '--batch', '1', '2', '--dtype', 'fp32', 'bf16', '--channels-last',
        '--warmup', '1', '--rounds', '1', '--repeats', '1', '--threads', '1', '--out-md', md,
        '--out-json', js, '--plot', png])
    with open(md) as f:
        assert f.read() == out
    with open(js) as f:
        data = json.load(f)
    rows = data['rows']
    forms = [('repghostnet', 'train'), ('repghostnet', 'deploy'), ('repghostnet', 'ort')]
    if len(models) == 3:
        forms.append(('timm:ghostnet_050', 'train'))
    want = {(m, f, d, b) for m, f in forms for d in ('fp32', 'bf16') for b in (1, 2)}
    got = [(r['model'], r['form'], r['dtype'], r['batch']) for r in rows]
    assert len(got) == len(want) and set(got) == want
    fields = {'model', 'arch', 'spec', 'form', 'part', 'dtype', 'batch', 'device',
              'channels_last', 'provider', 'params', 'macs', 'status', 'reason', 'median_ms',
              'p10_ms', 'p90_ms', 'ratio', 'top1', 'top1_source', 'times_ms'}
    assert all(fields <= set(r) for r in rows)
    assert data['meta']['batch'] == [1, 2] and data['meta']['channels_last'] is True
    by = {k: r for k, r in zip(got, rows)}
    for (m, f, d, b), r in by.items():
        assert r['params'] > 0 and r['macs'] > 0 and r['part'] == 'model'
        if f == 'ort' and d == 'bf16':  # ORT runs the fp32 export: reported, not timed
            assert r['status'] == 'unsupported' and 'fp32' in r['reason']
            assert r['median_ms'] is None
        else:
            assert r['status'] == 'ok', r
            assert len(r['times_ms']) == 1 and r['p10_ms'] <= r['median_ms'] <= r['p90_ms']
            assert r['ratio'] > 0
    for b in (1, 2):
        assert by[('repghostnet', 'train', 'fp32', b)]['ratio'] == 1.0  # first row of its table
        train, deploy = by[('repghostnet', 'train', 'fp32', b)], \
            by[('repghostnet', 'deploy', 'fp32', b)]
        assert deploy['params'] < train['params'] and deploy['macs'] == train['macs']
        ort = by[('repghostnet', 'ort', 'fp32', b)]
        assert ort['provider'] == 'CPUExecutionProvider' and deploy['provider'] is None
        assert ort['params'] == deploy['params']
    assert by[('repghostnet', 'train', 'fp32', 1)]['top1'] == 74.2
    if len(models) == 3:
        assert by[('timm:ghostnet_050', 'train', 'fp32', 1)]['top1'] == 66.2
    for b in (1, 2):
        cells = _table(out, f'model latency, batch {b}')
        assert len(cells) == len(forms) * 2
        assert any('unsupported: exported rows run the fp32 export' in c[6] for c in cells)
    assert 'ImageNet top-1 (%) used for the plot:' in out
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.getsize(png) > 10000


def test_benchmark_latency_refuses_an_unknown_form():
    proc = subprocess.run([sys.executable, osp.join(TOOLS, 'benchmark_latency.py'), V3 + '@fast'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "unknown form 'fast'" in proc.stderr
    assert '@deploy' in proc.stderr and '@both' in proc.stderr and '@ort' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_kd_overhead_benchmark_prints_the_ratio():
    out = run([osp.join(REPO, 'benchmarks', 'kd_overhead.py'), '--batch', '4', '--rounds', '1',
               '--repeats', '1'])
    ratio = float(re.search(r'KD / plain = ([\d.]+)', out).group(1))
    assert ratio > 0


def test_ghostnet_latency_goal_ratios():
    """benchmarks/ghostnet_latency.py's goal lines: the best fp32 path and runtime of each side,
    ratios of medians and of 10th percentiles, the FLOP floor of the row compared (not of the
    training form, which has more MACs), and the verdict against each bound."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'ghostnet_latency', osp.join(REPO, 'benchmarks', 'ghostnet_latency.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    def row(model, form, ms, **extra):
        return dict(model=model, form=form, batch=1, status='ok', median_ms=ms, p10_ms=ms / 2,
                    **extra)

    rows = [row('ghostnetv3', 'train', 100.0, floor_ms=5.0), row('ghostnetv3', 'deploy', 38.0),
            row('ghostnetv3', 'inference', 25.0), row('ghostnetv3', 'ort', 8.0),
            row('ghostnetv3', 'openvino', 7.0, floor_ms=2.0), row('ghostnetv3', 'ort-int8', 9.0),
            row('ghostnetv3', 'openvino-int8', 5.0), row('timm:ghostnetv3_100', 'deploy', 40.0),
            row('timm:ghostnetv3_100', 'ort', 8.5), row('timm:ghostnetv3_100', 'openvino', 10.0),
            dict(row('timm:ghostnetv3_100', 'openvino-int8', 1.0), status='unsupported'),
            row('timm:ghostnetv2_100', 'train', 41.0)]
    lines = {line.split(' | ')[0][2:]: line for line in bench.goal_lines(rows, 1)}
    assert lines['ours deploy / ours training form'] == \
        '| ours deploy / ours training form | 0.38 | 0.38 | <= 0.40 | met |'
    best = 'ours best fp32 (openvino) / timm best runtime (ort)'
    assert lines[best] == f'| {best} | 0.82 | 0.82 | <= 0.70 | NOT met |'
    assert lines['ours best fp32 (openvino) / FLOP floor (2.00 ms)'].endswith(
        '| 3.50 | 1.75 | <= 3.00 | NOT met |')
    assert '| 0.71 | 0.71 | <= 1.00 | met |' in \
        lines['ours best INT8 (openvino-int8) / ours best fp32 (openvino)']
    assert not [k for k in lines if 'timm best INT8' in k]  # the unsupported row is not used


def test_ghost_vs_mobilenet_table_and_goals():
    """benchmarks/ghost_vs_mobilenet.py: GhostNetV3 against MobileNetV3-L and timm in each
    form, its best path over its own FLOP floor, one compact row per model (median and p10),
    an unmeasured peer row said so rather than dropped."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'ghost_vs_mobilenet', osp.join(REPO, 'benchmarks', 'ghost_vs_mobilenet.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    specs = bench.specs(with_timm=True)
    assert sum(s.endswith('@ort-plain') for s in specs) == 3  # V1, V2, V3: the rewritten ones
    assert sum(s.endswith('@exported') for s in specs) == 8

    def row(model, form, ms, **extra):
        return dict(model=model, form=form, batch=1, status='ok', median_ms=ms, p10_ms=ms / 2,
                    top1=77.1 if model == 'ghostnetv3' else None, macs=167e6, **extra)

    rows = [row('ghostnetv3', 'ort-plain', 10.0), row('ghostnetv3', 'ort', 9.0, floor_ms=2.0),
            row('ghostnetv3', 'openvino', 6.0, floor_ms=2.0),
            row('ghostnetv3', 'openvino-int8', 4.0, floor_ms=2.0),
            row('mobilenet-v3-large', 'ort', 6.0), row('mobilenet-v3-large', 'openvino', 5.0),
            dict(row('mobilenet-v3-large', 'openvino-int8', 1.0), status='unsupported'),
            row('timm:ghostnetv3_100', 'ort', 10.0), row('timm:ghostnetv3_100', 'openvino', 5.0)]
    lines = {line.split(' | ')[0][2:]: line for line in bench.goal_lines(rows, 1)}
    assert lines['GhostNetV3 / MobileNetV3-L, ort'] == \
        '| GhostNetV3 / MobileNetV3-L, ort | 1.50 | 1.50 | <= 1.00 | NOT met |'
    assert lines['GhostNetV3 / MobileNetV3-L, openvino-int8'].endswith('| not measured |')
    assert lines['GhostNetV3 best (openvino-int8) / FLOP floor (2.00 ms)'].endswith(
        '| 2.00 | 1.00 | <= 2.00 | met |')
    from mmghost.analysis import verdict
    assert verdict(1.2, 0.9, 1.0) == 'noise' and verdict(1.2, 1.1, 1.0) == 'NOT met'
    assert lines['GhostNetV3 / timm ghostnetv3_100, ort'].endswith('| 0.90 | 0.90 | <= 0.80 | '
                                                                   'NOT met |')
    table = bench.compact_table(rows, 1).splitlines()
    assert table[2] == ('| ghostnetv3 | 77.1 | 167 | 10.00 (5.00) | 9.00 (4.50) | – | '
                        '6.00 (3.00) | 4.00 (2.00) | 2.00 |')
    assert table[3].startswith('| mobilenet-v3-large | – | 167 | – | 6.00 (3.00) | – |')
    assert table[3].endswith('| – | – |')  # the unsupported INT8 row: no time, no floor
