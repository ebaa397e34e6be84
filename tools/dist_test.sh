#!/usr/bin/env bash
# Distributed evaluation with torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/_torchrun.sh" test.py "$3" "$1" "$2" "${@:4}"
