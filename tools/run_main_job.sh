#!/usr/bin/env bash
# The main job, CPU only, no download: set up the environment, write the demo dataset,
# train, evaluate, and check that the re-parameterized model gives the same predictions.
#   bash tools/run_main_job.sh [WORK_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$(bash "$REPO/tools/setup_env.sh" | tail -n 1)"
cd "$REPO"
WORK_DIR="${1:-work_dirs/main_job}"
CONFIG=configs/classification/demo/ghostnetv3-small_shapes-demo.py
DATA=data/demo_cls

if [[ ! -d "$DATA/val" ]]; then
  "$PY" -m mmghost.datasets.demo_shapes --out "$DATA"
fi
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT="$WORK_DIR/$(cat "$WORK_DIR/last_checkpoint" | xargs basename)"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test"
"$PY" tools/misc/check_deploy.py "$CONFIG" "$CKPT"
echo "[main_job] done in $(( $(date +%s) - start )) s; logs in $WORK_DIR"
