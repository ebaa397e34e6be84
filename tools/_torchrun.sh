#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: run a tool under torchrun (gloo on CPU, NCCL on GPUs).
#   bash tools/_torchrun.sh TOOL NUM_PROCS [tool args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
set -euo pipefail
TOOL=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python}"
PYTHONPATH="$REPO:${PYTHONPATH:-}" \
exec "$PY" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$REPO/tools/$TOOL" "${@:3}" --launcher pytorch
