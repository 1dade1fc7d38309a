#!/usr/bin/env bash
# Installs the project with its test extras into .venv (CPU torch) and runs lint + the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
.venv/bin/ruff check prover retrieval search repair data tests scripts benchmarks
exec .venv/bin/python -m pytest -q "$@"
