#!/usr/bin/env bash
# Multi-node training on a Slurm cluster: srun starts one torchrun per node, each running
# NPROC_PER_NODE processes (one per GPU; CPU-only nodes use gloo). Node 0 is the rendezvous.
#   NNODES=2 NPROC_PER_NODE=8 PARTITION=gpu bash tools/slurm_train.sh CONFIG [train.py args...]
# Environment: NNODES (1), NPROC_PER_NODE (8), PORT (29500), PARTITION, JOB_NAME (mmghost),
# SRUN_ARGS (extra srun options, e.g. "--gres=gpu:8 --cpus-per-task=16").
set -euo pipefail
CONFIG=$1
NNODES=${NNODES:-1}
NPROC_PER_NODE=${NPROC_PER_NODE:-8}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2086
srun ${PARTITION:+--partition="$PARTITION"} --job-name="${JOB_NAME:-mmghost}" \
    --nodes="$NNODES" --ntasks-per-node=1 --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
    bash -c 'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
             export NNODES="$SLURM_NNODES" NODE_RANK="$SLURM_NODEID"
             exec bash "$0" "$@"' \
    "$REPO/tools/dist_train.sh" "$CONFIG" "$NPROC_PER_NODE" "${@:2}"
