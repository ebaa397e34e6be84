"""tools/analysis_tools: get_flops.py numbers and benchmark_latency.py's side-by-side table."""
import os.path as osp
import re
import subprocess
import sys

from helpers import SPEC

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
V3 = osp.join(REPO, 'configs', 'classification', '_base_', 'models', 'ghostnetv3.py')


def run(args):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_get_flops_reports_the_spec_params_in_both_forms():
    for deploy in (False, True):
        out = run([osp.join(TOOLS, 'get_flops.py'), V3] + (['--deploy'] if deploy else []))
        params = float(re.search(r'params ([\d.]+)M', out).group(1)) * 1e6
        macs = float(re.search(r'MACs \(conv\+linear\) ([\d.]+)M', out).group(1)) * 1e6
        want_params, want_macs = SPEC['GhostNetV3'][1.0][1::2] if deploy else \
            SPEC['GhostNetV3'][1.0][0::2]
        assert abs(params - want_params) <= 500, (out, want_params)  # printed to 1e3
        assert abs(macs - want_macs) <= 0.01 * want_macs, (out, want_macs)


def test_benchmark_latency_prints_a_table_with_ratios_to_the_first_model():
    out = run([osp.join(TOOLS, 'benchmark_latency.py'), V3, V3 + '@deploy', '--shape', '64',
               '--part', 'both', '--warmup', '1', '--rounds', '1', '--repeats', '2',
               '--threads', '1'])
    for part in ('backbone latency', 'model latency'):
        table = out.split(part)[1].split('\n\n')[0]
        rows = [r for r in table.splitlines() if r.startswith('| ghostnetv3')]
        assert len(rows) == 2, table
        cells = [[c.strip() for c in r.strip('|').split('|')] for r in rows]
        assert cells[0][-1] == '1.00' and float(cells[1][-1]) > 0
        assert float(cells[0][1].rstrip('M')) > float(cells[1][1].rstrip('M'))  # deploy is smaller


def test_benchmark_latency_refuses_an_unknown_form():
    proc = subprocess.run([sys.executable, osp.join(TOOLS, 'benchmark_latency.py'), V3 + '@fast'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "unknown form 'fast'" in proc.stderr


def test_kd_overhead_benchmark_prints_the_ratio():
    out = run([osp.join(REPO, 'benchmarks', 'kd_overhead.py'), '--batch', '4', '--rounds', '1',
               '--repeats', '1'])
    ratio = float(re.search(r'KD / plain = ([\d.]+)', out).group(1))
    assert ratio > 0
