#!/usr/bin/env bash
# Set up the environment if needed (tools/setup_env.sh), then run the test suite.
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$(bash "$REPO/tools/setup_env.sh" | tail -n 1)"
cd "$REPO"
# Two pytest-xdist workers (one thread each), each taking whole test files, so that module
# fixtures are built once; MMGHOST_TEST_WORKERS=0 runs in one process. -rs prints why each
# test was skipped; with CI=true or MMGHOST_STRICT=1 a skip fails the run (tests/strict_skips.py).
exec "$PY" -m pytest tests -q -rs -p no:cacheprovider --timeout=900 \
  -n "${MMGHOST_TEST_WORKERS:-2}" --dist loadfile "$@"
