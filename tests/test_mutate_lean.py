"""The mutation pipeline on real Lean: a few theorems of the Mathlib that lean_project builds.

Marked ``lean`` (conftest.py skips it with the reason when ``lake`` or the built project is missing); slow:
it elaborates a Mathlib file up to each theorem.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.export import read_steps
from prover.cli import main
from prover.lean.config import LeanConfig

pytestmark = [pytest.mark.lean, pytest.mark.slow]


def test_mutate_mathlib_theorems(tmp_path: Path) -> None:
    mathlib = Path(LeanConfig().project_dir) / ".lake" / "packages" / "mathlib"
    if not (mathlib / "Mathlib" / "Algebra" / "Group" / "Basic.lean").is_file():
        pytest.skip(f"no Mathlib source at {mathlib}")
    out = tmp_path / "mut"
    rc = main([
        "data", "mutate", "--source", str(mathlib), "--out", str(out), "--files", "Mathlib/Algebra/Group/Basic.lean",
        "--limit", "12", "--no-progress", "--set", "lean.timeout=120", "--set", "mutate.rewrites_per_target=16",
    ])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["opened"] > 0, summary
    rows = [json.loads(x) for x in (out / "mutants.jsonl").read_text().splitlines()]
    assert rows, summary  # simple group lemmas: `rw` finds something to rewrite
    for r in rows:
        assert "_mut_" in r["name"] and r["text"].startswith(r["statement"])
    assert list(read_steps(out / "steps.jsonl"))
    # resuming a finished run does no Lean work
    rc = main(["data", "mutate", "--source", str(mathlib), "--out", str(out), "--files",
               "Mathlib/Algebra/Group/Basic.lean", "--limit", "12", "--no-progress"])
    assert rc == 0
    assert json.loads((out / "summary.json").read_text())["session"]["requests"] == 0
