"""mmghost.library_changes: the one list of what mmghost changes in other libraries. Each
change names a test that fails without it; the at-import changes are in effect in a fresh
interpreter that never imports mmghost (the interpreter-start file), and
``MMGHOST_NO_HOOKS=1`` turns that file off: the changes then wait for ``import mmghost``."""
import ast
import importlib
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

from mmghost.library_changes import AT_IMPORT, CHANGES, NO_HOOKS_ENV, ON_USE

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# What each at-import change looks like from outside, read in a fresh interpreter.
PROBES = {
    'mmengine.config.utils.MODULE2PACKAGE':
        "import mmengine.config.utils as m; print('mmghost' in m.MODULE2PACKAGE)",
    "torch.serialization's safe globals":
        'import mmengine.runner.checkpoint, torch.serialization as s\n'
        'from mmengine.logging import HistoryBuffer\n'
        'print(HistoryBuffer in s.get_safe_globals())',
    'mmengine.runner.checkpoint.CheckpointLoader':
        'from mmengine.runner.checkpoint import CheckpointLoader as c\n'
        "print('mmghost://' in c._schemes)",
    'mmpretrain.apis.model.ModelHub':
        'from mmpretrain.apis import ModelHub\n'
        "print(ModelHub.has('ghostnetv3-1.0x_3rdparty_in1k'))",
    'mmdet.models.dense_heads.ssd_head.SSDHead':
        'from mmdet.models.dense_heads import SSDHead\n'
        "print(hasattr(SSDHead, 'loss_cls'))",
}


def _run(code: str, no_hooks: bool, cwd: str = '/') -> str:
    env = dict(os.environ)
    env.pop(NO_HOOKS_ENV, None)
    if no_hooks:
        env[NO_HOOKS_ENV] = '1'
    out = subprocess.run([sys.executable, '-c', code], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def _test_functions(path: str):
    tree = ast.parse(open(osp.join(REPO, path)).read())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize('change', CHANGES, ids=lambda c: c.target)
def test_every_change_states_its_reason_and_an_existing_test(change):
    assert change.change and len(change.reason) > 20
    path, _, name = change.test.partition('::')
    assert osp.isfile(osp.join(REPO, path)), change.test
    assert name in _test_functions(path), change.test
    if change in ON_USE:  # the function or class that makes it
        module, _, attr = change.apply.partition(':')
        assert callable(getattr(importlib.import_module(module), attr))
    else:
        assert callable(change.apply) and change.module


def test_every_at_import_change_is_probed():
    assert set(PROBES) == {c.target for c in AT_IMPORT}


@pytest.mark.parametrize('target', sorted(PROBES))
def test_the_interpreter_start_file_applies_it_and_no_hooks_turns_that_off(target):
    probe = PROBES[target]
    loaded = "import sys; print('mmghost' in sys.modules)"
    assert _run(f'{probe}\n{loaded}', no_hooks=False).split() == ['True', 'True']
    # switched off: nothing of mmghost is imported, and the library is as it ships
    assert _run(f'{probe}\n{loaded}', no_hooks=True).split() == ['False', 'False']
    # import mmghost still makes it, before or after the library's module is imported
    assert _run(f'import mmghost\n{probe}', no_hooks=True) == 'True'
    assert _run(f'{probe}\nimport mmghost\n{probe}', no_hooks=True).split() == ['False', 'True']


def test_the_user_path_that_needs_the_file(tmp_path):
    """mmdet's and mmpretrain's tools read a user's config before anything imports mmghost: its
    ``mmghost::`` base resolves only through the interpreter-start file."""
    cfg = tmp_path / 'mine.py'
    cfg.write_text("_base_ = 'mmghost::classification/_base_/models/ghostnetv3.py'\n")
    code = textwrap.dedent(f"""
        from mmengine.config import Config
        try:
            print(Config.fromfile({str(cfg)!r}).model.backbone.type)
        except Exception as e:
            print(type(e).__name__)
    """)
    assert _run(code, no_hooks=False) == 'mmghost.GhostNetV3'
    assert _run(code, no_hooks=True) != 'mmghost.GhostNetV3'
