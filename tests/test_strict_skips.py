"""tests/strict_skips.py: in strict mode (CI) a skipped test or module fails the run and says
why; outside it a skip stays a skip."""
import os
import os.path as osp
import subprocess
import sys

HERE = osp.dirname(osp.abspath(__file__))


def _run(tmp_path, strict: bool, name: str = ''):
    (tmp_path / 'test_a.py').write_text(
        'import pytest\n\ndef test_skips():\n    pytest.skip("no widget here")\n\n'
        'def test_runs():\n    assert True\n')
    (tmp_path / 'test_b.py').write_text(
        'import pytest\npytest.importorskip("no_such_package_for_mmghost")\n\n'
        'def test_never():\n    pass\n')
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'MMGHOST_STRICT')}
    env['PYTHONPATH'] = HERE + os.pathsep + env.get('PYTHONPATH', '')
    if strict:
        env['MMGHOST_STRICT'] = '1'
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'strict_skips', '-p',
                           'no:cacheprovider', '-rs', str(tmp_path / name)], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    return proc.returncode, proc.stdout + proc.stderr


def test_skips_fail_in_strict_mode_and_name_the_reason(tmp_path):
    rc, out = _run(tmp_path, strict=True, name='test_a.py')
    assert rc != 0 and '1 failed, 1 passed' in out, out
    assert 'skipped in strict mode (CI=true or MMGHOST_STRICT=1): no widget here' in out, out
    rc, out = _run(tmp_path, strict=True, name='test_b.py')  # a module-level importorskip
    assert rc != 0 and 'skipped in strict mode' in out, out
    assert "could not import 'no_such_package_for_mmghost'" in out, out


def test_skips_stay_skips_otherwise(tmp_path):
    rc, out = _run(tmp_path, strict=False)
    assert rc == 0, out
    assert '1 passed' in out and '2 skipped' in out, out
