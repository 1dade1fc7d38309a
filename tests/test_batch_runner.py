"""The batch runner with scripted agents (no Lean): pass@k, resume, crashes, fatal errors, full disk,
generator batching across workers, reports."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import types
from pathlib import Path

import pytest
from batch_fakes import OutcomeAgents, no_env, no_generator, theorems

from prover.batch.report import build_report, format_summary, write_report
from prover.batch.runner import AgentFactory, BatchingGenerator, BatchRunner, ProgressView
from prover.batch.store import AttemptRow, ResultStore
from prover.config import load_config
from prover.errors import UserError

TABLE = {
    "a": ["proved"],
    "b": ["proved", "failed", "failed", "failed"],
    "c": ["failed"],
    "d": ["failed", "proved", "proved", "failed"],
    "e": ["timeout", "failed", "failed", "proved"],
}


def factory(table: dict[str, list[str]], **kw) -> AgentFactory:
    return AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents(table, **kw))


def cfg(**ov):
    return load_config(None, {"batch.attempts": 4, "batch.workers": 3, **ov})


def run(tmp_path: Path, table=TABLE, names="abcde", **ov):
    return BatchRunner(cfg(**ov), theorems(list(names)), tmp_path, factory=factory(table), progress=False).run()


def test_pass_at_k_is_exact(tmp_path: Path) -> None:
    s = run(tmp_path)
    assert (s.todo, s.ran, s.fatal, s.unsaved) == (20, 20, None, 0)
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        rep = build_report(store)
    # per theorem (n=4): a c=4, b c=1, c c=0, d c=2, e c=1
    # pass@1 = (1 + .25 + 0 + .5 + .25)/5 ; pass@2 = (1 + .5 + 0 + 5/6 + .5)/5 ; pass@4 = 4/5
    pk = rep["all"]["pass_at_k"]
    assert pk["1"] == pytest.approx(2.0 / 5)
    assert pk["2"] == pytest.approx((1 + 0.5 + 0 + 5 / 6 + 0.5) / 5)
    assert pk["4"] == pytest.approx(0.8)
    assert rep["all"]["solved"] == 4 and rep["all"]["complete"]
    assert rep["attempts"]["by_status"] == {"proved": 8, "failed": 11, "timeout": 1}
    assert rep["expansions"]["per_theorem_mean"] == 12 and rep["lean_calls"]["per_theorem_mean"] == 28
    # seeds: attempt i ran with seed i
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert {(r["attempt"], r["seed"]) for r in store.attempts()} == {(i, i) for i in range(4)}


def test_resume_does_not_redo_finished_attempts(tmp_path: Path) -> None:
    run(tmp_path, names="abc", **{"batch.attempts": 2})
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        before = {(r["theorem"], r["attempt"]): r["finished"] for r in store.attempts()}
    assert len(before) == 6
    # same command again: nothing to do
    s = run(tmp_path, names="abc", **{"batch.attempts": 2})
    assert s.todo == 0 and s.skipped_done == 6
    # more attempts and more theorems: only the new ones run
    s = run(tmp_path, names="abcde", **{"batch.attempts": 4})
    assert s.todo == 20 - 6 and s.ran == 14
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        after = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
        assert len(after) == 20 and len(store.sessions()) == 3
    assert all(after[k]["finished"] == v for k, v in before.items())  # untouched


def test_worker_crash_is_retried_then_recorded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BATCH_FAKES_MARKERS", str(tmp_path / "markers"))
    import batch_fakes

    monkeypatch.setattr(batch_fakes, "MARKER_DIR", tmp_path / "markers")
    table = {"a": ["proved"], "flaky": ["raise_once"], "dead": ["raise"], "c": ["failed"]}
    s = run(tmp_path / "run", table=table, names=["a", "flaky", "dead", "c"], **{"batch.attempts": 2})
    assert s.ran == 8 and s.fatal is None
    with ResultStore.in_run_dir(tmp_path / "run", readonly=True) as store:
        rows = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
    assert rows[("flaky", 0)]["status"] == "proved" and rows[("flaky", 0)]["tries"] == 2
    dead = rows[("dead", 0)]
    assert dead["status"] == "error" and dead["tries"] == 2  # 1 retry (batch.retries = 1)
    assert dead["error"].startswith("worker crashed: RuntimeError: scripted agent crash")
    assert rows[("a", 1)]["status"] == "proved" and rows[("c", 1)]["status"] == "failed"  # the batch went on


def test_an_attempt_that_keeps_erring_is_redone_on_resume_until_max_tries(tmp_path: Path) -> None:
    ov = {"batch.attempts": 1, "batch.workers": 1, "batch.retries": 1, "batch.max_tries": 3}
    table = {"dead": ["raise"], "ok": ["proved"]}

    def tries() -> int:
        with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
            return {r["theorem"]: r["tries"] for r in store.attempts()}["dead"]

    assert run(tmp_path, table=table, names=["dead", "ok"], **ov).todo == 2
    assert tries() == 2  # this session: the try and its retry
    s = run(tmp_path, table=table, names=["dead", "ok"], **ov)
    assert (s.todo, s.redone_errors) == (1, 1) and tries() == 3  # one more, to max_tries in all
    s = run(tmp_path, table=table, names=["dead", "ok"], **ov)
    assert s.todo == 0 and tries() == 3  # given up: stays an error, never counted as failed


def test_statement_errors_are_not_retried(tmp_path: Path) -> None:
    s = run(tmp_path, table={"x": ["rejected"]}, names=["x"], **{"batch.attempts": 1})
    assert s.counts == {"error": 1}
    # "LeanCrashed: scripted rejected" is an infrastructure error: retried once, then recorded
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert store.attempts()[0]["tries"] == 2


def test_fatal_error_stops_the_batch_and_keeps_results(tmp_path: Path) -> None:
    table = {f"ok{i}": ["proved"] for i in range(4)} | {"boom": ["setup"]}
    names = [f"ok{i}" for i in range(4)] + ["boom"] + [f"later{i}" for i in range(30)]
    s = run(tmp_path, table=table, names=names, **{"batch.attempts": 1, "batch.workers": 1})
    assert s.fatal and "LeanSetupError" in s.fatal and "REPL binary is missing" in s.fatal
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert {r["theorem"] for r in store.attempts()} == {f"ok{i}" for i in range(4)}


def test_config_change_is_refused_unless_forced(tmp_path: Path) -> None:
    run(tmp_path, names="ab", **{"batch.attempts": 1})
    with pytest.raises(UserError, match=r"another configuration \(search.max_expansions: 500 -> 7\)"):
        run(tmp_path, names="ab", **{"batch.attempts": 1, "search.max_expansions": 7})
    with pytest.raises(UserError, match=r"another configuration \(mode: 'step' -> 'repair'\)"):  # results would mix
        run(tmp_path, names="ab", **{"batch.attempts": 1, "mode": "repair"})
    runner = BatchRunner(
        cfg(**{"search.max_expansions": 7}),
        theorems(["a"]),
        tmp_path,
        factory=factory(TABLE),
        progress=False,
        force=True,
    )
    assert runner.run().fatal is None


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("lean.timeout", 5.0, "lean.timeout: 60.0 -> 5.0"),
        ("lean.allowed_axioms", ["propext"], "lean.allowed_axioms"),
        ("lean.repl_command", ["my-repl"], "lean.repl_command: [] -> ['my-repl']"),
        ("batch.seed", 3, "batch.seed: 0 -> 3"),
    ],
)
def test_the_resume_guard_covers_lean_settings_and_the_seed(tmp_path: Path, key, value, shown) -> None:
    run(tmp_path, names="ab", **{"batch.attempts": 1})
    with pytest.raises(UserError, match=re.escape(shown)):
        run(tmp_path, names="ab", **{"batch.attempts": 1, key: value})
    # what only decides whether an attempt is cut short (redone as an error) may change
    assert run(tmp_path, names="ab", **{"batch.attempts": 1, "lean.memory_limit_mb": 8000}).fatal is None


def test_a_run_begun_before_the_guard_grew_resumes_and_adopts_it(tmp_path: Path) -> None:
    from prover.batch.runner import config_fingerprint

    run(tmp_path, names="ab", **{"batch.attempts": 1})
    with ResultStore.in_run_dir(tmp_path) as store:  # as an earlier version stored it
        old = {k: v for k, v in store.get_meta("fingerprint").items() if k not in ("lean", "batch")}
        store.set_meta("fingerprint", old)
    assert run(tmp_path, names="abc", **{"batch.attempts": 1}).todo == 1
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert store.get_meta("fingerprint") == config_fingerprint(cfg(**{"batch.attempts": 1}))


def test_full_disk_holds_results_and_writes_them_later(tmp_path: Path, capsys) -> None:
    runner = BatchRunner(
        cfg(**{"batch.workers": 1}), theorems(list("abcde")), tmp_path, factory=factory(TABLE), progress=False
    )
    real_on_row = runner._on_row
    seen = []

    def on_row(row: AttemptRow) -> None:
        seen.append(row)
        store = runner.store
        if len(seen) == 3:  # the disk fills up after two results...
            pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
            store.conn.execute(f"PRAGMA max_page_count={pages}")
            row.error = "x" * 20000  # needs new pages
        if len(seen) == 12:  # ...and has room again later
            store.conn.execute("PRAGMA max_page_count=1073741823")
        real_on_row(row)

    runner._on_row = on_row
    s = runner.run()
    err = capsys.readouterr().err
    assert "cannot write results" in err and "database or disk is full" in err
    assert "accepts writes again" in err
    assert s.unsaved == 0 and s.ran == 20
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert store.count() == 20


def test_results_that_never_fit_are_dumped(tmp_path: Path, capsys) -> None:
    runner = BatchRunner(
        cfg(**{"batch.workers": 1, "batch.attempts": 1}),
        theorems(list("abc")),
        tmp_path,
        factory=factory(TABLE),
        progress=False,
    )
    runner.final_retry_delays = (0.0, 0.1)
    real_on_row = runner._on_row

    def on_row(row: AttemptRow) -> None:
        pages = runner.store.conn.execute("PRAGMA page_count").fetchone()[0]
        runner.store.conn.execute(f"PRAGMA max_page_count={pages}")
        row.error = "y" * 20000
        real_on_row(row)

    runner._on_row = on_row
    s = runner.run()
    assert s.unsaved == 3 and Path(s.unsaved_path).parent == tmp_path
    lines = [json.loads(x) for x in Path(s.unsaved_path).read_text().splitlines()]
    assert sorted(r["theorem"] for r in lines) == ["a", "b", "c"]
    # the next run (space is back) records them and redoes none of them
    again = BatchRunner(
        cfg(**{"batch.workers": 1, "batch.attempts": 1}), theorems(list("abc")), tmp_path, factory=factory(TABLE),
        progress=False,
    ).run()
    assert again.todo == 0 and again.skipped_done == 3
    assert "recorded 3 finished result(s) that a full disk had kept out" in capsys.readouterr().err
    assert not Path(s.unsaved_path).exists()
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        assert {r["theorem"]: r["status"] for r in store.attempts()} == {"a": "proved", "b": "proved", "c": "failed"}


def test_unsaved_rows_go_elsewhere_when_the_run_dir_takes_nothing(tmp_path: Path, monkeypatch) -> None:
    """Where the run directory cannot take the file (here: not a directory), the rows go to a directory named
    after the run's id in the user's cache, which a resume of that run reads."""
    from prover.batch.store import dump_unsaved, import_unsaved

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    rows = [AttemptRow("a", 0, "proved", proof="theorem a : True := by\n  trivial"), AttemptRow("b", 0, "failed")]
    path = dump_unsaved(rows, blocked, "run123")
    assert path is not None and path.parent == tmp_path / "cache" / "prover" / "unsaved" / "run123"
    with path.open("a") as f:
        f.write('{"theorem": "c", "attem')  # the line the full disk cut short is skipped (c is redone)
    with ResultStore.in_run_dir(tmp_path / "run") as store:
        assert import_unsaved(store, blocked, "run123") == 2
        assert {(r["theorem"], r["status"]) for r in store.attempts()} == {("a", "proved"), ("b", "failed")}
    assert not path.exists()


def test_reports_are_written(tmp_path: Path) -> None:
    t = theorems(list("abcde"))
    t[2].meta["known_issue"] = "statement is false"
    t[4].meta["split"] = "test"
    BatchRunner(cfg(), t, tmp_path, factory=factory(TABLE), progress=False, info={"benchmark": "fake"}).run()
    rep = write_report(tmp_path)
    for f in ("report.json", "report.html", "theorems.csv", "attempts.csv", "proofs.jsonl"):
        assert (tmp_path / f).is_file(), f
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5  # time, pass@k, budgets, histograms, subjects
    assert rep["clean"]["theorems"] == 4 and rep["known_issues"][0]["name"] == "c"
    assert rep["clean"]["pass_at_k"]["4"] == pytest.approx(1.0)
    proofs = [json.loads(x) for x in (tmp_path / "proofs.jsonl").read_text().splitlines()]
    assert {p["name"] for p in proofs} == {"a", "b", "d", "e"}
    assert all(p["lean_version"] == "4.24.0-fake" and p["proof"].startswith("theorem ") for p in proofs)
    text = format_summary(rep)
    assert "pass@1 40.0%" in text and "known-issue" in text
    csv_lines = (tmp_path / "theorems.csv").read_text().splitlines()
    assert csv_lines[0].endswith("pass@1,pass@2,pass@3,pass@4") and len(csv_lines) == 6


def test_progress_lines_without_a_terminal() -> None:
    buf = io.StringIO()
    p = ProgressView(enabled=True, interval=0.0, stream=buf)
    p.start(2, 2, [])
    p.update(AttemptRow("a", 0, "proved", proof="x"))
    p.update(AttemptRow("b", 0, "failed"))
    p.close()
    out = buf.getvalue()
    assert "2/2 attempts | solved 1/2 | proved 1 failed 1 error 0" in out and "ETA" in out


class _CountingGenerator:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, states, premises=None, n=8, *, contexts=None):
        self.calls.append(len(states))
        time.sleep(0.02)
        return [[f"{s}:{n}:{(contexts or [None] * len(states))[i]}"] for i, s in enumerate(states)]


def test_batching_generator_merges_concurrent_calls() -> None:
    inner = _CountingGenerator()
    g = BatchingGenerator(inner, callers=4, window=0.5, max_states=64)
    out: dict[int, list] = {}
    barrier = threading.Barrier(4)

    def call(i: int) -> None:
        barrier.wait()
        out[i] = g.generate([f"s{i}a", f"s{i}b"], None, 3, contexts=[f"c{i}a", f"c{i}b"])

    ts = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # every caller got its own answers, in order
    assert all(out[i] == [[f"s{i}a:3:c{i}a"], [f"s{i}b:3:c{i}b"]] for i in range(4))
    # 4 callers arrived together: merged into far fewer calls (all 4 at once once everyone waits)
    assert sum(inner.calls) == 8 and len(inner.calls) <= 2 and g.calls == len(inner.calls)


def test_batching_generator_propagates_errors_and_respects_n() -> None:
    class Bad:
        def generate(self, states, premises=None, n=8, *, contexts=None):
            raise ValueError("model exploded")

    g = BatchingGenerator(Bad(), callers=1, window=0.0)
    with pytest.raises(ValueError, match="model exploded"):
        g.generate(["s"], None, 2)
    inner = _CountingGenerator()
    g = BatchingGenerator(inner, callers=1, window=0.0)
    assert g.generate([], None, 2) == []
    assert g.generate(["x"], None, 2) == [["x:2:None"]]


def test_cli_with_a_custom_agent_factory(tmp_path: Path, capsys) -> None:
    from prover.cli import main

    bench = tmp_path / "b.jsonl"
    bench.write_text(
        "".join(
            json.dumps({"name": n, "formal_statement": f"theorem {n} : True := by"}) + "\n" for n in ("a1", "b", "a2")
        )
    )
    args = ["batch", "--benchmark", str(bench), "--out", str(tmp_path / "r"), "-k", "2", "-j", "2", "--no-progress"]
    assert main([*args, "--agent-factory", "batch_fakes:demo_factory"]) == 0
    out = capsys.readouterr().out
    assert "3 theorems, 2 attempt(s) each (6/6 done), solved 2" in out and "pass@1 66.7%" in out
    assert main([*args, "--agent-factory", "batch_fakes:nope"]) == 2
    assert "--agent-factory 'batch_fakes:nope'" in capsys.readouterr().err


def test_a_report_file_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    import errno

    from prover.batch.report import atomic_write

    path = tmp_path / "report.json"
    path.write_text('{"old": true}')
    with pytest.raises(OSError), atomic_write(path) as f:
        f.write('{"new": ')
        raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == '{"old": true}' and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_report_on_a_run_dir_it_cannot_write_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    from prover.cli import main

    run(tmp_path, names="ab", **{"batch.attempts": 1})

    def refuse(path, newline=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("prover.batch.report.atomic_write", refuse)
    assert main(["report", str(tmp_path), "--no-plots"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"prover report: error: cannot write the reports into {tmp_path}: Permission denied"


def test_log_records_print_through_the_live_bar_not_under_it(monkeypatch) -> None:
    """A logging handler keeps the stream it was given, so a WARNING wrote straight onto the terminal under
    rich's live bar and tore it; during the bar, the handlers write through the bar's console."""
    import logging
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    handler = logging.StreamHandler(tty)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        p = ProgressView(enabled=True, stream=tty)
        p.start(1, 1, [])
        assert p.live and handler.stream is sys.stderr and sys.stderr is not tty  # rich's console proxy
        logging.getLogger("search.engine").warning("Lean crashed on tactic 'x' of t: the REPL process died")
        p.update(AttemptRow("t", 0, "failed"))
        p.close()
        assert handler.stream is tty and sys.stderr is tty
    finally:
        root.removeHandler(handler)
    assert "Lean crashed on tactic 'x' of t: the REPL process died\n" in tty.getvalue()


def test_a_lean_crash_is_one_warning_line_with_details_at_info(caplog) -> None:
    from fakes import ScriptedEnv, ScriptedGenerator, theorem

    from prover.lean.types import LeanCrashed
    from search import build_search
    from search.config import SearchConfig

    class Crashing(ScriptedEnv):  # the shape of ReplProcess's message: the event, then the REPL's stderr
        def run_tactic(self, state, tactic, timeout=None):
            raise LeanCrashed(
                "the REPL process died (it closed its output) while answering tactic 'boom'; killed by SIGSEGV; "
                "restarted it (generation 2)\nstderr:\nINTERNAL PANIC: out of memory\nbacktrace: ..."
            )

    goal = "x : Nat\n⊢ x = x"
    env = Crashing({"theorems": {"t": {"goals": [goal]}}, "tactics": {}})
    caplog.set_level("INFO", logger="search")
    build_search(SearchConfig(max_expansions=1)).search(
        env, env.start(theorem("t")), ScriptedGenerator({goal: ["boom"]}), theorem=theorem("t")
    )
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert warnings[0].getMessage().startswith("Lean crashed on tactic 'boom' of t: ")
    assert any(r.levelname == "INFO" and "INTERNAL PANIC" in r.getMessage() for r in caplog.records)


def test_the_adaptive_window_waits_only_when_merging_can_pay(monkeypatch) -> None:
    """The leader's wait (the fixed 5 ms window cost 2 workers a third of their speed-up with 5 ms Lean
    steps): nothing when generator calls are instant, up to the window when a call is expensive and another
    worker is expected back in time, nothing for a worker in a long Lean step; `fixed` always waits."""
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    g = BatchingGenerator(_CountingGenerator(), callers=2, window=0.005)
    me, other = 1, 2
    g._pending = [types.SimpleNamespace(caller=me)]  # the leader's own request
    assert g._wait_budget() == 0.005  # nothing measured yet: the window
    g._call_time = 0.0001  # an instant generator: merging saves nothing
    g._gap, g._left = {me: 0.004, other: 0.004}, {me: 99.999, other: 99.999}
    assert g._wait_budget() == 0.0
    g._call_time = 0.1  # a GPU call: worth waiting (the window) for a worker due back in 3 ms
    assert g._wait_budget() == 0.005
    g._gap[other] = 1.0  # in a long Lean step: not waited for
    assert g._wait_budget() == 0.0
    fixed = BatchingGenerator(_CountingGenerator(), callers=2, window=0.005, adaptive=False)
    fixed._pending = g._pending
    assert fixed._wait_budget() == 0.005
    assert BatchingGenerator(_CountingGenerator(), callers=2, window=0.0)._wait_budget() == 0.0


def test_batching_completions_merge_calls_and_keep_each_prompts_seed() -> None:
    """Whole-proof / draft / sketch prompts of several workers become one call of the completion backend; each
    prompt keeps its own seed (a request without seeds gets None for its prompts); errors reach every caller."""
    from prover.batch.runner import BatchingCompletions

    calls: list[tuple[list, int, list | None]] = []

    class Backend:
        def complete(self, prompts, n, seeds=None):
            calls.append((list(prompts), n, None if seeds is None else list(seeds)))
            time.sleep(0.02)
            if "bad" in prompts:
                raise ValueError("engine failed")
            return [[f"{p}:{(seeds or [None] * len(prompts))[i]}:{k}" for k in range(n)] for i, p in enumerate(prompts)]

        def close(self) -> None:
            calls.append(([], -1, None))

    b = BatchingCompletions(Backend(), callers=3, window=0.5)
    out: dict[int, list] = {}
    barrier = threading.Barrier(3)

    def call(i: int) -> None:
        barrier.wait()
        out[i] = b.complete([f"p{i}"], 2, [i] if i else None)

    ts = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == {0: [["p0:None:0", "p0:None:1"]], 1: [["p1:1:0", "p1:1:1"]], 2: [["p2:2:0", "p2:2:1"]]}
    assert len(calls) <= 2 and b.stats() == {"calls": len(calls), "states": 3, "requests": 3}
    with pytest.raises(ValueError, match="engine failed"):
        BatchingCompletions(Backend(), callers=1, window=0.0).complete(["bad"], 1)
    b.close()
    assert calls[-1] == ([], -1, None)  # it owns the backend it wraps
