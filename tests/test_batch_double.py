"""Batch runs end to end on the REPL protocol double: the real `Agent`, `ReplEnv` and `ReplPool`, the real
store and CLI; the generator is scripted (or the automation portfolio through the CLI). Includes a run that
is killed with SIGKILL and resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_fakes import (
    DOUBLE,
    ScriptedGenerators,
    double_config,
    double_script,
    double_theorems,
    write_script,
)

from prover.batch.report import write_report
from prover.batch.runner import AgentFactory, BatchRunner
from prover.batch.store import ResultStore
from prover.cli import main

REPO = Path(__file__).resolve().parents[1]
TACTICS = ["boom", "rfl", "constructor", "all_goals assumption"]


def test_real_agent_on_the_double(tmp_path: Path) -> None:
    script = double_script(3, 2, 2, crash=True)
    sp = write_script(tmp_path / "s.json", script)
    config = double_config(sp, **{"batch.attempts": 2, "batch.workers": 2})
    factory = AgentFactory(generator=ScriptedGenerators({}, default=TACTICS))
    s = BatchRunner(config, double_theorems(script), tmp_path / "run", factory=factory, progress=False).run()
    assert s.ran == 18 and s.fatal is None and s.unsaved == 0
    with ResultStore.in_run_dir(tmp_path / "run", readonly=True) as store:
        rows = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
    for name in ("easy_0", "two_1", "crashy"):  # crashy: `boom` kills the REPL, it restarts, `rfl` proves it
        r = rows[(name, 1)]
        assert r["status"] == "proved" and r["lean_version"] is None  # the double runs on no Lean
        assert r["proof"].startswith(f"theorem {name} : True := by\n")
    assert rows[("two_0", 0)]["proof"].endswith("constructor\n  all_goals assumption")
    assert rows[("hard_0", 0)]["status"] == "failed"
    bad = rows[("bad_statement", 0)]
    assert bad["status"] == "error" and bad["error"].startswith("Lean rejected the statement") and bad["tries"] == 1
    assert all(r["lean_calls"] > 0 for k, r in rows.items() if k[0] != "bad_statement")
    rep = write_report(tmp_path / "run")
    assert rep["all"]["pass_at_k"]["1"] == pytest.approx(6 / 9)  # 3 easy + 2 two-step + crashy
    session = rep["sessions"][0]
    assert session["lean_version"] is None and "does not run the REPL with `lake env`" in session["lean_version_source"]
    assert s.generator["calls"] <= s.generator["requests"]  # calls from the 2 workers were merged


def test_attempts_cut_short_by_a_dying_repl_are_errors_that_a_resume_redoes(tmp_path: Path) -> None:
    """Every REPL process exits after 3 answers (a real dying subprocess, restarted each time). Nothing hangs;
    no theorem a clean run proves is recorded as failed (before: 5 were, for good); each attempt the crashes
    cut short is an error naming the cause, and a resume with a healthy REPL proves them."""
    script = double_script(4, 2, 1)
    sp = write_script(tmp_path / "s.json", script)
    dying = [sys.executable, str(DOUBLE), "--script", str(sp), "--die-after", "3"]
    config = double_config(sp, **{"lean.repl_command": dying, "batch.workers": 2, "batch.retries": 0})
    factory = AgentFactory(generator=ScriptedGenerators({}, default=["rfl", "constructor", "all_goals assumption"]))
    thms = double_theorems(script)
    s = BatchRunner(config, thms, tmp_path / "run", factory=factory, progress=False).run()
    assert s.ran == len(thms) and s.fatal is None
    with ResultStore.in_run_dir(tmp_path / "run", readonly=True) as store:
        rows = {r["theorem"]: r for r in store.attempts()}
    provable = {n for n in rows if n.startswith(("easy", "two"))}
    assert {rows[n]["status"] for n in provable} <= {"proved", "error"}
    cut = {n for n in provable if rows[n]["status"] == "error"}
    assert cut and all(rows[n]["error"].startswith("LeanCrashed") for n in cut)

    healthy = double_config(sp, **{"batch.workers": 2})
    s2 = BatchRunner(healthy, thms, tmp_path / "run", factory=factory, progress=False, force=True).run()
    assert s2.todo == s2.redone_errors >= len(cut)
    with ResultStore.in_run_dir(tmp_path / "run", readonly=True) as store:
        after = {r["theorem"]: r for r in store.attempts()}
    assert all(after[n]["status"] == "proved" for n in provable)
    assert all(after[n]["tries"] == 2 for n in cut)  # the count goes on across sessions


def _cli_args(sp: Path, bench: Path, out: Path, *extra: str) -> list[str]:
    return [
        "batch", "--benchmark", str(bench), "--out", str(out), "--attempts", "2", "--workers", "2",
        "--no-progress",
        "--set", f"lean.repl_command={json.dumps([sys.executable, str(DOUBLE), '--script', str(sp)])}",
        "--set", "lean.memory_limit_mb=null",
        "--set", "generator.backend=automation",
        "--set", "generator.automation=[rfl, constructor, all_goals assumption]",
        "--set", "search.max_expansions=4",
        *extra,
    ]  # fmt: skip


def _benchmark(tmp_path: Path, script: dict, known: dict[str, str] | None = None) -> Path:
    bench = tmp_path / "bench.jsonl"
    with bench.open("w") as f:
        for name in script["theorems"]:
            row = {
                "name": name,
                "split": "test",
                "header": "import Mathlib\n\n",
                "formal_statement": f"theorem {name} : True := by",
                "known_issue": (known or {}).get(name),
            }
            f.write(json.dumps(row) + "\n")
    return bench


def test_cli_batch_and_report(tmp_path: Path, capsys) -> None:
    script = double_script(3, 1, 1)
    sp = write_script(tmp_path / "s.json", script)
    bench = _benchmark(tmp_path, script, {"hard_0": "statement is false"})
    out = tmp_path / "run"
    assert main(_cli_args(sp, bench, out)) == 0
    o = capsys.readouterr().out
    assert "6 theorems, 2 attempt(s) each (12/12 done), solved 4" in o
    assert "pass@1 66.7%" in o and "without the 1 known-issue statements (5)" in o
    # same command: resumes with nothing to do
    assert main(_cli_args(sp, bench, out)) == 0
    assert "already done" in capsys.readouterr().err
    # skip known issues; report re-rendered from the store alone
    assert main(["report", str(out), "--no-plots"]) == 0
    assert "solved 4" in capsys.readouterr().out
    assert (
        main(
            _cli_args(
                sp,
                bench,
                tmp_path / "run2",
                "--known-issues",
                "skip",
                "--name",
                "easy_*",
                "--name",
                "hard_*",
                "--dry-run",
            )
        )
        == 0
    )
    cap = capsys.readouterr()
    assert cap.out.split() == ["easy_0", "easy_1", "easy_2"] and "1 known-issue statement(s) skipped" in cap.err


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "a", "formal_statement": "theorem a : True := by"}\n{"name": "b",\n')
    assert main(["batch", "--benchmark", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prover batch: error: ") and "bad.jsonl:2: invalid JSON" in err and "\n" not in err
    assert main(["batch", "--benchmark", "minif3f", "--out", str(tmp_path / "r")]) == 2
    assert "unknown benchmark 'minif3f'" in capsys.readouterr().err
    assert main(["batch", "--benchmark", "minif2f", "--split", "train", "--out", str(tmp_path / "r")]) == 2
    assert "unknown split 'train' of minif2f" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no results store" in capsys.readouterr().err


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_loses_no_finished_result_and_resume_completes(tmp_path: Path) -> None:
    script = double_script(10, 4, 2, sleep=0.15)
    sp = write_script(tmp_path / "s.json", script)
    bench = _benchmark(tmp_path, script)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from prover.cli import entry; entry()", "-v", *_cli_args(sp, bench, out)]
    log = (tmp_path / "log").open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    db = out / "results.sqlite"
    deadline = time.monotonic() + 120
    while _count(db) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its REPL processes, mid-run
    proc.wait()
    log.close()
    recorded = [
        line.split("recorded ", 1)[1].split(":")[0].rsplit(" attempt ", 1)
        for line in (tmp_path / "log").read_text().splitlines()
        if "recorded " in line
    ]
    with ResultStore.in_run_dir(out, readonly=True) as store:
        rows = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
    total = len(script["theorems"]) * 2
    assert 6 <= len(rows) < total
    # every attempt the process reported as finished is in the store
    assert recorded and {(n, int(a)) for n, a in recorded} <= set(rows)

    # resume: the same command finishes the rest without redoing anything
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"resumed: {len(rows)} attempt(s) were already done" in res.stderr
    with ResultStore.in_run_dir(out, readonly=True) as store:
        after = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
        assert len(store.sessions()) == 2
    assert len(after) == total
    for k, r in rows.items():
        assert after[k]["finished"] == r["finished"] and after[k]["session"] == 1
    assert {r["session"] for k, r in after.items() if k not in rows} == {2}
    solved = {k[0] for k, r in after.items() if r["status"] == "proved"}
    assert solved == {n for n in script["theorems"] if n.startswith(("easy", "two"))}


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_keeps_results(tmp_path: Path) -> None:
    script = double_script(12, 0, 0, sleep=0.15)
    sp = write_script(tmp_path / "s.json", script)
    bench = _benchmark(tmp_path, script)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from prover.cli import entry; entry()", *_cli_args(sp, bench, out)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _count(out / "results.sqlite") < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)  # what Slurm sends on preemption / scancel
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted after" in stderr and "rerun the same command to resume" in stderr
    assert (out / "report.html").is_file() and "theorems, 2 attempt(s) each" in stdout
    assert _count(out / "results.sqlite") >= 3


def test_batch_and_prove_send_the_generator_identical_prompts_and_seeds(tmp_path: Path) -> None:
    """With 2 workers the generator sits behind `BatchingGenerator`, which merges the calls of both workers;
    every state must still reach the model with its own theorem name, tactics so far and attempt seed, as in
    a single `prove` (the InternLM2.5 prompt shows NAME and PROOF_BEFORE)."""
    from batch_fakes import PromptRecorder, recorded_prompts

    from prover.agent import Agent

    script = double_script(2, 3, 1)
    sp = write_script(tmp_path / "s.json", script)
    config = double_config(
        sp, **{"batch.attempts": 2, "batch.workers": 2, "batch.seed": 10, "batch.batch_window_ms": 200}
    )
    tactics = ["rfl", "constructor", "all_goals assumption"]
    thms = double_theorems(script)

    single = tmp_path / "prove.jsonl"
    with Agent(config, generator=PromptRecorder(single, tactics)(config)) as agent:
        for attempt in range(2):
            for t in thms:
                agent.prove(t, seed=10 + attempt)
    batched = tmp_path / "batch.jsonl"
    factory = AgentFactory(generator=PromptRecorder(batched, tactics))
    s = BatchRunner(config, thms, tmp_path / "run", factory=factory, progress=False).run()
    assert s.ran == 2 * len(thms) and s.generator["calls"] < s.generator["requests"]  # calls were merged
    want = recorded_prompts(single)
    assert {seed for _, seed in want} == {10, 11}
    assert any("NAME: two_0\n" in p and "PROOF_BEFORE: constructor\n" in p for p, _ in want)
    assert recorded_prompts(batched) == want


@pytest.mark.slow
def test_a_second_batch_on_the_same_run_dir_is_refused(tmp_path: Path) -> None:
    """Two real `prover batch` processes on one --out: the second refuses in one line while the first runs
    (before the lock, both ran every attempt); the first finishes the run alone."""
    script = double_script(8, 0, 0, sleep=0.1)
    sp = write_script(tmp_path / "s.json", script)
    bench = _benchmark(tmp_path, script)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from prover.cli import entry; entry()", *_cli_args(sp, bench, out)]
    first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _count(out / "results.sqlite") < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the first run finished too early"
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    err = second.stderr.strip().splitlines()[-1]
    assert err.startswith("prover batch: error: ") and f"in use by another `prover batch` (pid {first.pid} " in err
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-2000:]
    with ResultStore.in_run_dir(out, readonly=True) as store:
        assert store.count() == 2 * len(script["theorems"]) and len(store.sessions()) == 1
