"""`prover batch --benchmark putnambench | formalmath_lite` end to end on the REPL protocol double: selection,
the two PutnamBench answer modes, the Lean-version warning, and what the reports say.

The double answers from a script keyed by theorem name (it never proves anything; `tests/double/SCRIPT.md`):
here each selected theorem's root goal is closed by `rfl`. That makes the step prover "prove" a PutnamBench
statement whatever its answer; what is tested is the plumbing around it: which statement reaches Lean, that
an answer-free proof without the answers is rejected, and the counts in the reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from batch_fakes import DOUBLE, write_script

from prover.batch.store import ResultStore
from prover.cli import main

PUTNAM = ["putnam_1962_a5", "putnam_1962_a1"]  # the first has an answer placeholder, the second none
LITE = ["algebra_569189", "algebra_539177"]


def _script(names: list[str]) -> dict:
    thms, tactics = {}, {}
    for i, n in enumerate(names):
        g = f"x{i} : ℕ\n⊢ x{i} = x{i}"
        thms[n] = {"goals": [g]}
        tactics[g] = {"rfl": {"goals": [], "axioms": ["propext"]}}
    return {"lean_version": "4.27.0-double", "theorems": thms, "tactics": tactics}


def _args(sp: Path, bench_dir: Path, benchmark: str, names: list[str], out: Path, *extra: str) -> list[str]:
    sel = [x for n in names for x in ("--name", n)]
    return [
        "batch", "--benchmark", benchmark, "--benchmark-dir", str(bench_dir), *sel, "--out", str(out),
        "--no-progress",
        "--set", f"lean.repl_command={json.dumps([sys.executable, str(DOUBLE), '--script', str(sp)])}",
        "--set", "lean.memory_limit_mb=null",
        "--set", "generator.backend=automation",
        "--set", "generator.automation=[rfl]",
        "--set", "search.max_expansions=3",
        *extra,
    ]  # fmt: skip


def test_putnambench_both_answer_modes_on_the_double(tmp_path: Path, shared_dir: Path, capsys) -> None:
    sp = write_script(tmp_path / "s.json", _script(PUTNAM))
    bench = shared_dir / "benchmarks"
    inline = tmp_path / "inline"
    assert main(_args(sp, bench, "putnambench", PUTNAM, inline)) == 0
    io = capsys.readouterr()
    warning = [x for x in io.err.splitlines() if "warning: putnambench's statements were checked with Lean 4.27.0" in x]
    assert len(warning) == 1 and "Lean 4.24.0" in warning[0]  # lean_project/ is on v4.24.0
    assert "solved 2 (2/672 of the benchmark)" in io.out
    assert "answer placeholders: inline" in io.out
    with ResultStore.in_run_dir(inline, readonly=True) as store:
        stmts = {t["name"]: t["statement"] for t in store.theorems()}
        assert store.get_meta("answers") == "inline"
        assert json.loads([t for t in store.theorems() if t["name"] == "putnam_1962_a5"][0]["subject"]) == [
            "algebra",
            "combinatorics",
        ]
    assert "((fun n : ℕ => n * (n + 1) * 2^(n - 2)) : ℕ → ℕ) n" in stmts["putnam_1962_a5"]
    assert "putnam_1962_a5_solution" not in stmts["putnam_1962_a5"]
    rep = json.loads((inline / "report.json").read_text())
    assert rep["benchmark_info"]["total"] == 672 and rep["answers"] == "inline"
    assert set(rep["subjects"]) == {"algebra", "combinatorics", "geometry"} and rep["multi_subject"]

    # answer-free: the step prover's proof does not define the answer, so the gate path rejects it
    free = tmp_path / "free"
    assert main(_args(sp, bench, "putnambench", PUTNAM, free, "--answers", "free")) == 0
    out = capsys.readouterr().out
    assert "solved 1 (1/672 of the benchmark)" in out and "answer placeholders: free" in out
    with ResultStore.in_run_dir(free, readonly=True) as store:
        status = {a["theorem"]: a["status"] for a in store.attempts()}
        stmts = {t["name"]: t for t in store.theorems()}
    assert status == {"putnam_1962_a5": "failed", "putnam_1962_a1": "proved"}
    assert "abbrev putnam_1962_a5_solution : ℕ → ℕ := sorry" in stmts["putnam_1962_a5"]["header"]
    assert "2^(n - 2)" not in stmts["putnam_1962_a5"]["header"]  # the answer comment is not shown

    # one run directory, one answer mode
    assert main(_args(sp, bench, "putnambench", PUTNAM, free)) == 2
    assert "holds a run with --answers free" in capsys.readouterr().err


def test_formalmath_lite_on_the_double_reports_domains_by_top_level_and_leaf(
    tmp_path: Path, shared_dir: Path, capsys
) -> None:
    sp = write_script(tmp_path / "s.json", _script(LITE))
    out = tmp_path / "lite"
    assert main(_args(sp, shared_dir / "benchmarks", "formalmath_lite", LITE, out, "--dry-run")) == 0
    assert capsys.readouterr().out.split() == LITE  # the declared names, not theorem_names
    assert main(_args(sp, shared_dir / "benchmarks", "formalmath_lite", LITE, out)) == 0
    io = capsys.readouterr()
    assert "Lean 4.11.0" in io.err and "solved 2 (2/425 of the benchmark)" in io.out
    assert "answer placeholders" not in io.out
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["subjects_top"]) == {"Algebra", "Geometry", "Calculus"}
    assert "Algebra/Inequalities/Other" in rep["subjects"] and "Algebra/Other" in rep["subjects"]
    assert rep["subjects_top"]["Algebra"]["theorems"] == 2


@pytest.mark.parametrize("answers", ["inline", "free"])
def test_putnambench_dry_run_lists_every_problem(tmp_path: Path, shared_dir: Path, capsys, answers: str) -> None:
    sp = write_script(tmp_path / "s.json", _script([]))
    args = _args(sp, shared_dir / "benchmarks", "putnambench", [], tmp_path / "r", "--dry-run", "--answers", answers)
    assert main(args) == 0
    names = capsys.readouterr().out.split()
    assert len(names) == 672 and names[0] == "putnam_1962_a1"


def test_cut_off_proofnet_statements_are_reported_apart(tmp_path: Path, shared_dir: Path, capsys) -> None:
    """A statement cut off in the data is a known issue: marked, run, and reported apart with its reason."""
    names = ["Ireland_Rosen_exercise_2_4", "Shakarchi_exercise_1_13b"]
    sp = write_script(tmp_path / "s.json", _script(names))
    out = tmp_path / "pn"
    assert main(_args(sp, shared_dir / "benchmarks", "proofnet", names, out, "--split", "test")) == 0
    assert "1 known-issue statement(s) marked" in capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    (k,) = rep["known_issues"]
    assert k["name"] == "Ireland_Rosen_exercise_2_4" and k["reason"].startswith("the statement is cut off")
    assert rep["clean"]["theorems"] == 1
