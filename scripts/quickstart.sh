#!/usr/bin/env bash
# Fresh machine → a first miniF2F run: checks the network, installs the prover into .venv (CPU torch unless an
# NVIDIA GPU is present), sets up Lean + Mathlib + the REPL, downloads miniF2F, prints how long the run can take
# and runs `prover batch` on the test split with the default (CPU) config.
#
# Usage: bash scripts/quickstart.sh [prover batch arguments, e.g. --workers 8 --attempts 4 --limit 20]
# The first run (no runs/minif2f-test yet) proves only the first 10 theorems unless you pass --limit: all 244
# on one CPU worker can take days. Rerunning the command resumes and adds what is new.
# Environment: VENV (default .venv), SETUP_LEAN (default "bash scripts/setup_lean.sh"; e.g. "true" when Lean
# is already set up), QUICKSTART_OUT (default runs/minif2f-test), QUICKSTART_LIMIT (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
SETUP_LEAN="${SETUP_LEAN:-bash scripts/setup_lean.sh}"
OUT="${QUICKSTART_OUT:-runs/minif2f-test}"
TORCH=torch==2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'quickstart: error: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf 'quickstart: fix: %s\n' "$2" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# 1. The network, before minutes of installs --------------------------------------------------------------
have curl || die "curl is not installed (the network check and Mathlib's cache downloader need it)" \
  "install curl (e.g. sudo apt-get install curl), then rerun"
if have nvidia-smi && nvidia-smi -L >/dev/null 2>&1; then
  gpu=yes
else
  gpu=no
fi
hosts=("https://pypi.org/simple/pip/ (Python packages)"
  "https://github.com (elan, Mathlib, the REPL)"
  "https://huggingface.co (the generator model)")
[ "$gpu" = no ] && hosts+=("$CPU_INDEX/ (CPU torch)")
unreachable=()
for entry in "${hosts[@]}"; do
  url="${entry%% *}"
  curl -sS -o /dev/null --head --max-time 15 "$url" 2>/dev/null || unreachable+=("$entry")
done
if [ "${#unreachable[@]}" -gt 0 ]; then
  die "cannot reach: ${unreachable[*]}" \
    "check the network / proxy (https_proxy) and rerun; nothing was installed"
fi

# 2. Python packages --------------------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "could not create $VENV" "install python3-venv (Python >= 3.11)"
VENV="$(cd "$VENV" && pwd)"
if [ "$gpu" = yes ]; then
  say "NVIDIA GPU found: installing torch with CUDA"
  "$VENV/bin/pip" install -q "$TORCH"
else
  say "no NVIDIA GPU: installing the CPU build of torch (a fraction of the CUDA build's download)"
  "$VENV/bin/pip" install -q "$TORCH" --index-url "$CPU_INDEX"
fi
"$VENV/bin/pip" install -q -e .

# 3. Lean, Mathlib, the REPL ------------------------------------------------------------------------------
$SETUP_LEAN
export PATH="$HOME/.elan/bin:$VENV/bin:$PATH"
prover doctor || say "prover doctor reports missing items (above); the run below may fail on them"

# 4. miniF2F ---------------------------------------------------------------------------------------------
prover batch --benchmark minif2f --split test --out "$OUT" --dry-run >/dev/null 2>&1 \
  || prover data download minif2f

# 5. The run: small on a first run, with what it can cost said before it starts -----------------------------
args=("$@")
limited=no
for a in "${args[@]+"${args[@]}"}"; do
  case "$a" in --limit | --limit=*) limited=yes ;; esac
done
if [ ! -e "$OUT" ] && [ "$limited" = no ]; then
  args+=(--limit "${QUICKSTART_LIMIT:-10}")
  say "first run: only the first ${QUICKSTART_LIMIT:-10} theorems (pass --limit N for more; rerunning resumes)"
fi
exec prover batch --benchmark minif2f --split test --out "$OUT" "${args[@]+"${args[@]}"}"
