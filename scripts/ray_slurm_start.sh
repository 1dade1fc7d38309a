#!/usr/bin/env bash
# Start a Ray cluster on the nodes of the current Slurm allocation: the head on the first node, one worker
# per other node, each using the CPUs/GPUs Slurm gave it. Source it from a batch script (it exports
# RAY_ADDRESS) or run it and read the address from its last line:
#
#   source scripts/ray_slurm_start.sh        # inside `sbatch` / `salloc`
#   prover batch ... --ray "$RAY_ADDRESS"
#
# Environment: RAY_PORT (default 6379), RAY_CPUS (default $SLURM_CPUS_PER_TASK or all), RAY_GPUS (default
# the node's GPUs from CUDA_VISIBLE_DEVICES / SLURM_GPUS_ON_NODE), RAY_START_WAIT (seconds to wait for the
# workers, default 60), PROVER_VENV (a virtualenv to activate on every node).
# Needs: Slurm (scontrol, srun), the `ray` CLI on every node, the project and its Lean project on a file
# system every node sees at the same path.
set -euo pipefail

if [ -z "${SLURM_JOB_ID:-}" ]; then
  echo "ray_slurm_start.sh: not inside a Slurm allocation (SLURM_JOB_ID is unset); use sbatch or salloc" >&2
  return 2 2>/dev/null || exit 2
fi
if [ -n "${PROVER_VENV:-}" ]; then
  # shellcheck disable=SC1091
  source "$PROVER_VENV/bin/activate"
fi
command -v ray >/dev/null || { echo "ray_slurm_start.sh: the ray CLI is not on PATH (pip install 'ray[default]')" >&2; exit 2; }

port="${RAY_PORT:-6379}"
cpus="${RAY_CPUS:-${SLURM_CPUS_PER_TASK:-$(nproc)}}"
gpus="${RAY_GPUS:-${SLURM_GPUS_ON_NODE:-0}}"
mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_node="${nodes[0]}"
head_ip="$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address | awk '{print $1}')"
export RAY_ADDRESS="${head_ip}:${port}"

echo "ray_slurm_start.sh: head ${head_node} (${RAY_ADDRESS}), ${#nodes[@]} node(s), ${cpus} CPUs / ${gpus} GPUs each" >&2
srun --nodes=1 --ntasks=1 --overlap -w "$head_node" \
  ray start --head --node-ip-address="$head_ip" --port="$port" --num-cpus="$cpus" --num-gpus="$gpus" \
  --include-dashboard=false --block &
sleep 5
for node in "${nodes[@]:1}"; do
  srun --nodes=1 --ntasks=1 --overlap -w "$node" \
    ray start --address="$RAY_ADDRESS" --num-cpus="$cpus" --num-gpus="$gpus" --block &
done

# Wait until every node has joined.
deadline=$(( $(date +%s) + ${RAY_START_WAIT:-60} ))
while :; do
  alive="$(python - <<PY 2>/dev/null || echo 0
import ray
ray.init(address="${RAY_ADDRESS}", log_to_driver=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
PY
)"
  [ "${alive:-0}" -ge "${#nodes[@]}" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ray_slurm_start.sh: only ${alive:-0} of ${#nodes[@]} nodes joined the Ray cluster" >&2
    break
  fi
  sleep 3
done
echo "RAY_ADDRESS=${RAY_ADDRESS}"
