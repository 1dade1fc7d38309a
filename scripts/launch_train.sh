#!/usr/bin/env bash
# Run `accelerate launch ARGS...` on every node of the current Slurm allocation (one launcher per node, 8 GPU
# processes each by default), or on this machine alone outside Slurm. Used by slurm_train.sbatch and, as
# train.iterate.launcher, by `prover train iterate` to train each round on the whole allocation:
#
#   scripts/launch_train.sh -m prover train sft --data D --out O --model M [--config C]
#
# Environment: ACCEL_CONFIG (default configs/train/accelerate_multinode.yaml; e.g. accelerate_zero3.yaml,
# accelerate_fsdp.yaml), GPUS_PER_NODE (default $SLURM_GPUS_ON_NODE or 8), MASTER_PORT (default 29500),
# PROVER_VENV (a virtualenv to activate on every node).
set -euo pipefail
ACCEL_CONFIG="${ACCEL_CONFIG:-configs/train/accelerate_multinode.yaml}"
GPUS_PER_NODE="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-8}}"
MASTER_PORT="${MASTER_PORT:-29500}"
[ -f "$ACCEL_CONFIG" ] || { echo "launch_train.sh: $ACCEL_CONFIG not found (run from the repository root)" >&2; exit 2; }
if [ -n "${PROVER_VENV:-}" ]; then
  # shellcheck disable=SC1091
  source "$PROVER_VENV/bin/activate"
fi
command -v accelerate >/dev/null || { echo "launch_train.sh: accelerate is not on PATH" >&2; exit 2; }

if [ -z "${SLURM_JOB_ID:-}" ]; then
  exec accelerate launch --config_file "$ACCEL_CONFIG" --num_machines 1 --machine_rank 0 \
    --num_processes "$GPUS_PER_NODE" "$@"
fi
nnodes="${SLURM_JOB_NUM_NODES:-1}"
head_node="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)"
head_ip="$(srun --nodes=1 --ntasks=1 --overlap -w "$head_node" hostname --ip-address | awk '{print $1}')"
echo "launch_train.sh: ${nnodes} node(s) x ${GPUS_PER_NODE} GPUs, head ${head_node} (${head_ip}:${MASTER_PORT}), $ACCEL_CONFIG" >&2
# SLURM_NODEID is set per task by srun: each node's launcher gets its own machine rank.
srun --nodes="$nnodes" --ntasks-per-node=1 --overlap bash -c '
  exec accelerate launch --config_file "$0" --num_machines "$1" --num_processes "$(( $1 * $2 ))" \
    --machine_rank "$SLURM_NODEID" --main_process_ip "$3" --main_process_port "$4" "${@:5}"
' "$ACCEL_CONFIG" "$nnodes" "$GPUS_PER_NODE" "$head_ip" "$MASTER_PORT" "$@"
