#!/usr/bin/env bash
# The main job, CPU only, no download: set up the environment, generate the demo COCO set,
# train RetinaNet-GhostNetV3 on it from scratch, evaluate COCO-style bbox mAP with
# tools/test.py and save prediction pictures.
#   bash tools/run_main_job.sh [WORK_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$(bash "$REPO/tools/setup_env.sh" | tail -n 1)"
cd "$REPO"
WORK_DIR="${1:-work_dirs/main_job}"
CONFIG=configs/detection/demo/retinanet_ghostv3_demo.py
DATA=data/demo_coco

if [[ ! -f "$DATA/annotations/instances_val.json" ]]; then
  "$PY" -m mmghost.datasets.demo_coco --out "$DATA"
fi
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
train_s=$(( $(date +%s) - start ))
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --show-dir predictions 2>&1 \
  | tee "$WORK_DIR/test.log"
echo "[main_job] training took ${train_s} s; $(grep -o 'coco/bbox_mAP: [0-9.]*' "$WORK_DIR/test.log" | tail -1)"
echo "[main_job] prediction pictures: $(ls -d "$WORK_DIR"/test/*/predictions | tail -1)"
