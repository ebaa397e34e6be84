"""Run several command-line tools in ONE subprocess (the OpenMMLab imports are paid once).

``run_tools(code, cwd)`` runs ``code`` in a fresh interpreter after the ``DRIVER`` prelude,
which defines ``tool(script, *argv, check=True)`` (loads the script, calls its ``main()``
with ``argv`` as ``sys.argv`` and returns ``(exit code, main's return value)``, the exit code
being the one the script's ``__main__`` gives: ``sys.exit(main())`` turns a returned int into
the code and anything else truthy into 1; with ``check`` a non-zero exit stops the run) and
``result(**values)`` (hands JSON values back).
"""
import json
import os.path as osp
import subprocess
import sys

__all__ = ['run_tools']

DRIVER = r'''
import json, os, runpy, sys
sys.path.insert(0, @TESTS@)
os.chdir(@CWD@)

def tool(script, *argv, check=True):
    g = runpy.run_path(script, run_name='mmghost_tool')
    with open(script) as f:
        src = f.read()
    exits_with_main = 'sys.exit(main())' in src or 'SystemExit(main())' in src
    sys.argv = [script] + [str(a) for a in argv]
    try:
        ret = g['main']()
    except SystemExit as e:
        ret, rc = None, (e.code if isinstance(e.code, int) else 0 if e.code is None else 1)
    else:  # what ``sys.exit(ret)`` would exit with (0 when __main__ just calls main())
        rc = (0 if ret is None else ret if isinstance(ret, int) else 1) if exits_with_main else 0
    if check and rc:
        raise SystemExit(f'{script} {argv} exited with {rc}')
    return rc, ret

def result(**kw):
    print('@@RESULT ' + json.dumps(kw), flush=True)
'''


def run_tools(code: str, cwd, timeout: int = 600):
    """Returns ``(values given to result(), stdout + stderr)``; fails on a non-zero exit."""
    tests_dir = osp.dirname(osp.abspath(__file__))
    script = DRIVER.replace('@TESTS@', repr(tests_dir)).replace('@CWD@', repr(str(cwd)))
    proc = subprocess.run([sys.executable, '-c', script + code], capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('@@RESULT ')]
    assert len(lines) == 1, out[-5000:]
    return json.loads(lines[0][len('@@RESULT '):]), out
