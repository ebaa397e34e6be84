#!/usr/bin/env bash
# Distributed training with torchrun (gloo on CPU, NCCL on GPUs).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/_torchrun.sh" train.py "$2" "$1" "${@:3}"
