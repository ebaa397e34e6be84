"""A pytest plugin: in CI (``CI=true``) or with ``MMGHOST_STRICT=1`` every skip is a failure.

The README set-up installs every package the suite uses (timm, onnxruntime, openvino, nncf,
pnnx, ncnn, openmim, ...), so a skip there means a broken set-up that would otherwise pass
unseen. Loaded by tests/conftest.py; ``tools/run_tests.sh`` prints every skip's reason (``-rs``).
"""
import os

import pytest


def strict() -> bool:
    return os.environ.get('MMGHOST_STRICT') == '1' or os.environ.get('CI', '').lower() == 'true'


def _fail_skip(report) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.strip().removeprefix('Skipped: ')
    report.outcome = 'failed'
    report.longrepr = (f'skipped in strict mode (CI=true or MMGHOST_STRICT=1): {reason}. '
                       f'The README set-up (bash tools/setup_env.sh) installs every package the '
                       f'tests need; a skip means the set-up is incomplete.')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped and not hasattr(report, 'wasxfail'):
        _fail_skip(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped:  # a module-level importorskip
        _fail_skip(report)
