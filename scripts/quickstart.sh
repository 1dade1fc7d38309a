#!/usr/bin/env bash
# Fresh machine → a miniF2F run: installs the prover into .venv, sets up Lean + Mathlib + the REPL,
# downloads miniF2F, and runs `prover batch` on the test split with the default (CPU) config.
# Extra arguments go to `prover batch` (e.g. --workers 8 --attempts 4 --limit 20).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e .
bash scripts/setup_lean.sh
export PATH="$HOME/.elan/bin:$PWD/.venv/bin:$PATH"
prover doctor
# Download miniF2F unless the benchmark directory already has it.
prover batch --benchmark minif2f --split test --out runs/minif2f-test --dry-run >/dev/null 2>&1 \
    || prover data download minif2f
exec prover batch --benchmark minif2f --split test --out runs/minif2f-test "$@"
