"""The mutation pipeline end to end on the REPL protocol double: mutants found, statements built, the gate
verifying them (and rejecting an unsound one), output and export formats, faults, resume after ``kill -9``."""

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
from mutate_fixtures import ROOT_FOO, demo_script, demo_tree, double_command, write_script

from data.export import read_steps
from data.mutate.candidates import leandojo_selection
from data.mutate.premises import PremiseSource
from data.mutate.runner import MutationRun
from data.mutate.store import MutationStore
from prover.config import load_config
from prover.errors import UserError
from retrieval.corpus import Corpus

REPO = Path(__file__).resolve().parents[1]


def _config(script: Path, **ov):
    base = {
        "lean.repl_command": double_command(script),
        "lean.timeout": 20.0,
        "lean.memory_limit_mb": None,
        "mutate.workers": 1,
    }
    base.update(ov)
    return load_config(None, base)


def _run(tmp_path: Path, script: dict, out: str = "out", **ov) -> tuple[Path, MutationStore]:
    root = demo_tree(tmp_path)
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    prefilter = PremiseSource.build(corpus)
    cfg = _config(write_script(tmp_path, script), **ov)
    run = MutationRun(cfg, root, tmp_path / out, prefilter, progress=False, argv=["test"])
    run.summary = run.run()
    return tmp_path / out, MutationStore.in_dir(tmp_path / out)


def test_end_to_end(tmp_path: Path) -> None:
    out, store = _run(tmp_path, demo_script())
    cands = {c["name"]: c for c in store.candidates()}
    assert cands["Demo.foo"]["status"] == "done" and cands["Demo.bar"]["status"] == "done"
    assert cands["Demo.broken"]["status"] == "skipped" and "does not open" in cands["Demo.broken"]["reason"]
    assert "type mismatch" in cands["Demo.broken"]["reason"]
    assert cands["Demo.rec_thm"]["status"] == "skipped" and "recursion" in cands["Demo.rec_thm"]["reason"]

    by_kind = {(m["kind"], m["site"]): m for m in store.mutants() if m["source"] == "Demo.foo"}
    goal = by_kind[("rw", "⊢")]
    assert goal["status"] == "verified" and goal["source"] == "Demo.foo"
    assert goal["statement"].endswith("(a b : Nat) (h : a + 0 = b) : b = a")
    assert goal["proof"] == "by\n  have this : b * 1 = a := by omega\n  rw [Demo.mul_one'] at this\n  exact this"
    hyp = by_kind[("rw", "h")]
    assert hyp["status"] == "verified" and "(h : a = b) : b * 1 = a" in hyp["statement"]
    app = by_kind[("apply", "h")]
    assert app["status"] == "verified" and "(h₁ : a - 0 = b) : b * 1 = a" in app["statement"]
    assert app["proof"].startswith("by\n  have h : a + 0 = b := by apply Demo.eq_of_sub <;> assumption")
    # the unsound one: bar's proof goes through native_decide, whose axiom the gate does not allow
    bad = [m for m in store.mutants() if m["source"] == "Demo.bar"]
    assert len(bad) == 1 and bad[0]["status"] == "rejected" and "Lean.ofReduceBool" in bad[0]["reason"]

    rows = [json.loads(x) for x in (out / "mutants.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for r in rows:
        assert r["name"].startswith("Demo.foo_mut_") and r["source"] == "Demo.foo"
        assert r["header"].rstrip().endswith("import Demo.Prelude")
        assert r["text"] == f"{r['statement']} := {r['proof']}"
        assert set(r) >= {"name", "header", "statement", "proof", "source", "kind", "premise", "file", "line"}
    steps = list(read_steps(out / "steps.jsonl"))
    assert steps and all(s.origin == "mutation" and s.state and s.tactic for s in steps)
    assert len({(s.state, s.tactic) for s in steps}) == len(steps)  # deduplicated
    assert any(s.state == ROOT_FOO.replace("⊢ b * 1 = a", "⊢ b = a") for s in steps)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["kinds"]["rw"]["verified"] == 2 and summary["kinds"]["rw"]["rejected"] == 1
    assert summary["kinds"]["apply"]["verified"] == 1
    assert summary["lean_calls_per_verified"] > 0 and summary["session"]["requests"] > 0
    store.close()


def test_rerun_does_nothing_twice(tmp_path: Path) -> None:
    out, store = _run(tmp_path, demo_script())
    before = {m["id"]: m["checked"] for m in store.mutants()}
    store.close()
    out, store = _run(tmp_path, demo_script())
    assert {m["id"]: m["checked"] for m in store.mutants()} == before
    assert len(store.candidates()) == 7
    store.close()


def test_a_crashing_attempt_is_skipped_and_the_run_goes_on(tmp_path: Path) -> None:
    out, store = _run(tmp_path, demo_script(crash_on="rw [Demo.add_zero'] at h"))
    foo = next(c for c in store.candidates() if c["name"] == "Demo.foo")
    assert foo["status"] == "done"
    assert json.loads(foo["discovery"])["faults"] == 1
    kinds = {(m["kind"], m["site"]): m["status"] for m in store.mutants() if m["source"] == "Demo.foo"}
    assert kinds == {("rw", "⊢"): "verified", ("apply", "h"): "verified"}
    store.close()


def test_kinds_and_limit(tmp_path: Path) -> None:
    out, store = _run(tmp_path, demo_script(), **{"mutate.kinds": ["apply"]})
    assert {m["kind"] for m in store.mutants()} == {"apply"}
    store.close()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    code = "from prover.cli import entry; entry()"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path: Path) -> None:
    root = demo_tree(tmp_path)
    script = write_script(tmp_path, demo_script(slow=1.0))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "lean:\n  repl_command: " + json.dumps(double_command(script)) + "\n  timeout: 30\n  memory_limit_mb: null\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROVER_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "run"
    args = ["data", "mutate", "--source", str(root), "--out", str(out), "--config", str(cfg), "--no-progress"]
    p = _cli(args, env)
    db = out / "mutate.sqlite"
    deadline = time.monotonic() + 120
    verified: dict[str, float] = {}
    while time.monotonic() < deadline and p.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    verified = dict(conn.execute("SELECT id, checked FROM mutants WHERE status = 'verified'"))
            except sqlite3.Error:
                verified = {}
            if verified:
                break
        time.sleep(0.1)
    assert verified, "no mutant verified before the deadline"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p2 = _cli(args, env)
    stdout, stderr = p2.communicate(timeout=300)
    assert p2.returncode == 0, stderr
    store = MutationStore(db)
    after = {m["id"]: m for m in store.mutants()}
    for mid, checked in verified.items():
        assert after[mid]["status"] == "verified" and after[mid]["checked"] == checked  # not redone
    assert sum(m["status"] == "verified" for m in after.values()) == 3
    assert len(store.candidates()) == 7 and all(c["status"] in ("done", "skipped") for c in store.candidates())
    assert "3 verified theorems" in stdout
    store.close()


def test_cli_bad_input(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROVER_CACHE_DIR": str(tmp_path / "cache")}
    p = _cli(["data", "mutate", "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], env)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "source not found" in err and len(err.strip().splitlines()) == 1
    p = _cli(["data", "mutate", "--source", str(tmp_path), "--out", str(tmp_path / "o"), "--kinds", "rw,foo"], env)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "mutate.kinds" in err and len(err.strip().splitlines()) == 1


def test_leandojo_selection(tmp_path: Path, shared_dir: Path) -> None:
    real = leandojo_selection(shared_dir / "traced" / "traced_sample_theorems.json")
    assert len(real) == 10 and all(f.endswith(".lean") and ".lake" not in f for f, _ in real)
    # a dependency's file (LeanDojo writes `.lake/packages/batteries/Batteries/…`) is relative to its package
    assert ("Batteries/Data/BinomialHeap/Basic.lean", "Batteries.BinomialHeap.Imp.Heap.WF.tail?") in real
    sel = tmp_path / "sel.jsonl"
    sel.write_text(json.dumps({"full_name": "Demo.foo", "file_path": "Demo/Basic.lean", "start": [12, 1]}) + "\n")
    root = demo_tree(tmp_path)
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    cfg = _config(write_script(tmp_path, demo_script()))
    MutationRun(cfg, root, tmp_path / "o", PremiseSource.build(corpus), selection=leandojo_selection(sel),
                progress=False, argv=["t"]).run()
    with MutationStore.in_dir(tmp_path / "o") as store:
        assert [c["name"] for c in store.candidates()] == ["Demo.foo"]
        assert len(store.mutants("verified")) == 3
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x"}]')
    with pytest.raises(UserError, match="full_name"):
        leandojo_selection(bad)


def test_resume_with_other_arguments_is_refused(tmp_path: Path) -> None:
    out, store = _run(tmp_path, demo_script())
    store.close()
    root = demo_tree(tmp_path)
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    cfg = _config(write_script(tmp_path, demo_script()))
    run = MutationRun(cfg, root, out, PremiseSource.build(corpus), limit=2, progress=False, argv=["t"])
    with pytest.raises(UserError, match="--limit"):
        run.run()


def test_a_second_run_on_the_same_out_is_refused(tmp_path: Path) -> None:
    from prover.runlock import RunLock

    root = demo_tree(tmp_path)
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    cfg = _config(write_script(tmp_path, demo_script()))
    (tmp_path / "out").mkdir()
    with RunLock(tmp_path / "out", "prover data mutate"):  # another run holds it (flock: per open file)
        run = MutationRun(cfg, root, tmp_path / "out", PremiseSource.build(corpus), progress=False, argv=["t"])
        with pytest.raises(UserError, match="in use by another `prover data mutate`"):
            run.run()
    run.run()  # free again: it runs


def test_an_option_lean_does_not_know_stops_the_run(tmp_path: Path) -> None:
    script = demo_script()
    # what Lean answers to `set_option NAME true in …` for an option it does not have (Lean.Elab.elabSetOption)
    script["theorems"]["foo"] = {"error": "unknown option 'pp.mvars.withType'"}
    out, store = _run(tmp_path, script)
    with store:
        foo = next(c for c in store.candidates() if c["name"] == "Demo.foo")
        assert foo["status"] == "pending"  # not recorded as skipped: nothing is wrong with the theorem
    summary = json.loads((out / "summary.json").read_text())
    assert "mutate.pp_options" in summary["session"]["fatal"]
