"""The HTML report of one run and the comparison of several (`prover report A B …`), from stores written by
the real batch runner with scripted agents (no Lean)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from batch_fakes import OutcomeAgents, no_env, no_generator, theorems

from prover.batch.compare import build_comparison, format_comparison
from prover.batch.report import proof_length, write_report
from prover.batch.runner import AgentFactory, BatchRunner
from prover.cli import main
from prover.config import load_config
from prover.errors import UserError

TABLE = {
    "a": ["proved"],
    "b": ["proved", "failed"],
    "c": ["failed"],
    "d": ["raise_once"],  # each attempt's agent crashes once, the retry proves it: recovered attempts
    "e": ["timeout", "failed"],
}


@pytest.fixture(autouse=True)
def _fresh_markers(tmp_path: Path, monkeypatch) -> None:
    import batch_fakes

    monkeypatch.setattr(batch_fakes, "MARKER_DIR", tmp_path / "markers")  # `raise_once` raises once per test


def _run(out: Path, table: dict[str, list[str]], names: str = "abcde", attempts: int = 2) -> None:
    ts = theorems(list(names))
    for t in ts:
        t.meta["subjects"] = ["algebra"] if t.name in "abc" else ["geometry", "algebra"]
    if "c" in names:
        ts[names.index("c")].meta["known_issue"] = "statement is false"
    config = load_config(None, {"batch.attempts": attempts, "batch.workers": 1})
    factory = AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents(table))
    BatchRunner(config, ts, out, factory=factory, progress=False, info={"benchmark": "fake"}).run()


def test_run_report_has_run_info_theorem_table_plots_and_fault_counts(tmp_path: Path) -> None:
    _run(tmp_path, TABLE)
    rep = write_report(tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    # the run: model, dates, Lean toolchain of the project, the config
    assert "hf: kaiyuy/leandojo-lean4-tacgen-byt5-small" in page and "started 20" in page
    assert "leanprover/lean4:v4.24.0" in page and "the run's config" in page
    # the budget as the field writes it: attempts × tactics per expansion × expansions
    assert rep["run"]["budget"] == "pass@2×8×500, 600 s per attempt" and rep["run"]["budget"] in page
    # a sortable, filterable table with one row per theorem, the outcome, the proof and the errors
    rows = re.findall(r"<tr data-text='([^']*)' data-tags='([^']*)'>", page)
    assert [r[0].split()[0] for r in rows] == list("abcde")
    tags = dict((r[0].split()[0], r[1]) for r in rows)
    assert tags["a"] == "solved" and tags["c"] == "unsolved failed known" and "timeout" in tags["e"]
    assert "proved 2/2" in page and "<summary>show</summary><pre>theorem a : True := by" in page
    assert "id='q'" in page and "id='st'" in page and "sorted-asc" in page  # the table's script is there
    # plots: wall time, pass@k, budgets, histograms, by subject
    assert page.count("data:image/png;base64,") == 5
    # faults the store records: the recovered attempts (tries 2, proved) and the timeout
    assert rep["recovered"] == {"attempts": 2, "retries": 2}
    assert re.search(r"recovered after an infrastructure failure[^<]*</td><td[^>]*>2<", page)
    assert re.search(r"timed out \(final\)</td><td[^>]*>1<", page)
    # several subjects: counted in each, said so
    assert rep["subjects"]["algebra"]["theorems"] == 5 and rep["subjects"]["geometry"]["theorems"] == 2
    assert "A theorem with several subjects counts in each." in page
    # histograms' inputs
    assert len(rep["attempt_times"]["proved"]) == 5 and rep["run"]["sessions"] == 1
    rows_json = json.loads((tmp_path / "report.json").read_text())["theorems"]
    assert {r["key"]: r["solve_expansions"] for r in rows_json}["a"] is not None


def test_proof_length_counts_tactic_lines_after_the_statement() -> None:
    stmt = "theorem t (x : ℕ) :\n    x = x :="
    assert proof_length(stmt + " by\n  intro\n  -- why\n\n  rfl", stmt) == 2
    assert proof_length("theorem t : True := by\n  trivial", "theorem t : True := by") == 1
    assert proof_length("theorem t : True := by\n  constructor\n  all_goals simp", None) == 2
    assert proof_length(None, stmt) is None


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "base", tmp_path / "new"
    _run(a, {"a": ["proved"], "b": ["failed"], "c": ["failed"], "d": ["proved"], "e": ["failed"]})
    _run(b, {"a": ["proved"], "b": ["proved"], "c": ["failed"], "d": ["failed"], "e": ["failed", "proved"]}, attempts=3)
    return a, b


def test_comparison_solved_sets_overlap_and_curves(tmp_path: Path) -> None:
    a, b = _two_runs(tmp_path)
    cmp, reports = build_comparison([a, b])
    assert [r["label"] for r in cmp["runs"]] == ["base", "new"]
    assert [r["solved"] for r in cmp["runs"]] == [2, 3] and [r["K"] for r in cmp["runs"]] == [2, 3]
    assert cmp["common_theorems"] == 5 and cmp["same_selection"]
    assert (cmp["solved_by_all"], cmp["solved_by_any"], cmp["solved_by_none"]) == (1, 4, 1)
    assert cmp["pairwise_solved_both"] == [[2, 1], [1, 3]]
    assert cmp["only"] == [["d"], ["b", "e"]]
    assert cmp["differences"] == [
        {"theorem": "b", "solved": [False, True]},
        {"theorem": "d", "solved": [True, False]},
        {"theorem": "e", "solved": [False, True]},
    ]
    text = format_comparison(cmp)
    assert "solved by all 1, by any 4, by none 1" in text and "only new: 2: b, e" in text


def test_cli_report_compares_runs_without_writing_into_them(tmp_path: Path, capsys) -> None:
    a, b = _two_runs(tmp_path)
    before = {p: p.stat().st_mtime_ns for d in (a, b) for p in d.iterdir()}
    out = tmp_path / "cmp" / "compare.html"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    o = capsys.readouterr().out
    assert "base" in o and "new" in o and f"comparison: {out}" in o
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2  # pass@k of both on one plot, solved vs wall time
    assert "Solved by one run only" in page and "Theorems some runs solved and others did not" in page
    assert {p: p.stat().st_mtime_ns for d in (a, b) for p in d.iterdir()} == before
    assert main(["report", str(a), str(b), "--json", "--no-plots", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out.rsplit("comparison:", 1)[0])["solved_by_all"] == 1


def test_comparing_different_selections_uses_the_shared_theorems(tmp_path: Path) -> None:
    a, b = tmp_path / "x", tmp_path / "y"
    _run(a, {"a": ["proved"], "b": ["proved"]}, names="abc")
    _run(b, {"b": ["proved"], "d": ["proved"]}, names="bd")
    cmp, _ = build_comparison([a, b])
    assert not cmp["same_selection"] and cmp["common_theorems"] == 1 and cmp["theorems_per_run"] == [3, 2]
    assert cmp["solved_by_all"] == 1 and cmp["only"] == [[], []]
    assert "overlap is over the 1 they share" in format_comparison(cmp)


def test_bad_comparisons_are_one_line_errors(tmp_path: Path, capsys) -> None:
    a, _ = _two_runs(tmp_path)
    with pytest.raises(UserError, match="at least two"):
        build_comparison([a])
    with pytest.raises(UserError, match="twice"):
        build_comparison([a, a])
    assert main(["report", str(a), str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no results store here" in err and "\n" not in err
    assert main(["report", str(a), "--out", str(tmp_path / "c.html")]) == 2
    assert "--out is for comparing" in capsys.readouterr().err


def test_corrected_statements_are_reported_apart(tmp_path: Path, shared_dir: Path, capsys) -> None:
    from data.benchmarks import benchmark_run_info, load_benchmark

    ts = load_benchmark("minif2f_rectified", "test", shared_dir / "benchmarks")
    fixed = [t for t in ts if t.meta.get("corrected")][:2]
    plain = [t for t in ts if not t.meta.get("corrected")][:2]
    sel = fixed + plain
    table = {fixed[0].name: ["proved"], plain[0].name: ["proved"]}
    config = load_config(None, {"batch.attempts": 1, "batch.workers": 1})
    factory = AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents(table))
    info = {"benchmark": "minif2f_rectified", **benchmark_run_info("minif2f_rectified", sel)}
    BatchRunner(config, sel, tmp_path, factory=factory, progress=False, info=info).run()
    rep = write_report(tmp_path)
    cor = rep["corrected"]
    assert [c["name"] for c in cor["theorems"]] == [t.name for t in fixed]
    assert cor["summary"]["theorems"] == 2 and cor["summary"]["solved"] == 1
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Corrected statements (reported apart)" in page and "corrected from minif2f_dsv15" in page
    assert main(["report", str(tmp_path), "--no-plots"]) == 0
    assert "statements this variant corrected: 2, solved 1" in capsys.readouterr().out
