#!/usr/bin/env bash
# The main job, CPU only, no download: set up the environment, write the demo COCO dataset,
# train RetinaNet-GhostNetV3 on it from scratch, evaluate COCO bbox mAP with tools/test.py
# and save prediction pictures.
#   bash tools/run_main_job.sh [WORK_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$(bash "$REPO/tools/setup_env.sh" | tail -n 1)"
cd "$REPO"
WORK_DIR="${1:-work_dirs/main_job}"
CONFIG=configs/detection/demo/retinanet_ghostv3_demo.py
DATA=data/demo_coco

# The generator is deterministic; it keeps a set written with the same arguments.
"$PY" -m mmghost.datasets.demo_coco --out "$DATA" --if-changed
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
trained=$(date +%s)
CKPT="$WORK_DIR/$(xargs basename < "$WORK_DIR/last_checkpoint")"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
  --show-dir predictions 2>&1 | tee "$WORK_DIR/test.log"
# --show-dir is relative to the timestamped folder mmengine makes for the test run.
pictures=$(ls -d "$WORK_DIR"/test/*/predictions 2>/dev/null | tail -n 1)
echo "[main_job] training $(( trained - start )) s, total $(( $(date +%s) - start )) s"
echo "[main_job] prediction pictures: ${pictures:-none}; logs and checkpoints: $WORK_DIR"
# The demo's bar: the detector really learned (COCO bbox mAP@[.5:.95] >= 0.5 on val).
grep -o 'bbox_mAP_copypaste: .*' "$WORK_DIR/test.log" | tail -n 1 | awk '{
  printf "[main_job] COCO bbox mAP@[.5:.95] %s, mAP@0.5 %s on the demo val split\n", $2, $3
  if ($2 + 0 < 0.5) { print "[main_job] FAILED: mAP below the 0.5 bar"; exit 1 }
  print "[main_job] bar met (mAP >= 0.5)" }'
