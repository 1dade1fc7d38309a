"""The REPL transport against real subprocesses of the protocol double (tests/double/repl_double.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from prover.lean.config import LeanConfig
from prover.lean.repl import ReplProcess
from prover.lean.types import (
    LeanCrashed,
    LeanError,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    ProofFinished,
    TacticState,
)

DOUBLE = Path(__file__).parent / "double" / "repl_double.py"
BASIC = Path(__file__).parent / "double" / "scripts" / "basic.json"
HEADER = "import Mathlib\nset_option maxHeartbeats 400000\nopen Nat Real"
T1 = "theorem t1 (x : Nat) : x = x := by sorry"
GOAL = "x : Nat\n⊢ x = x"


def double_cmd(script: Path = BASIC, *extra: str) -> list[str]:
    return [sys.executable, str(DOUBLE), "--script", str(script), *extra]


def cfg(**kw) -> LeanConfig:
    base = {"timeout": 3.0, "header_timeout": 3.0, "memory_limit_mb": None, "max_rss_mb": None}
    base.update(kw)
    return LeanConfig(**base)


@pytest.fixture
def proc():
    p = ReplProcess(cfg(), command=double_cmd())
    p.start()
    yield p
    p.close()


def root_state(p: ReplProcess) -> int:
    r = p.command(T1, env=p.header_env(HEADER))
    assert r.ok and len(r.sorries) == 1
    return r.sorries[0].proof_state


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# ---------------------------------------------------------------------------------------------------
# protocol


def test_round_trip_and_classification(proc: ReplProcess) -> None:
    env = proc.header_env(HEADER)
    assert proc.header_env(HEADER) == env  # cached: elaborated once per generation
    r = proc.command(T1, env=env)
    assert r.ok and r.env is not None and r.env != env
    assert r.sorries[0].goal == GOAL and r.sorries[0].pos is not None
    assert [m.data for m in r.messages] == ["declaration uses `sorry`"]
    ps = r.sorries[0].proof_state
    assert isinstance(proc.tactic("rfl", ps), ProofFinished)
    g = proc.tactic("grow", ps)  # scripted: same goal again
    assert isinstance(g, TacticState) and g.pp == GOAL and g.id not in (ps, None)
    bad = proc.tactic("bad", ps)
    assert isinstance(bad, LeanError) and "unknown identifier 'bad'" in bad.error
    unknown = proc.tactic("no_such_tactic", ps)
    assert isinstance(unknown, LeanError) and "unknown tactic" in unknown.error
    recovered = proc.tactic("exact foo", ps)  # error + "Incomplete: contains sorry" is an error
    assert isinstance(recovered, LeanError) and "foo" in recovered.error
    assert isinstance(proc.tactic("rfl", 9999), LeanError)  # unknown proof state
    assert proc.command("def f := 1", env=9999).error == "Unknown environment."
    assert proc.lean_version is None and proc.lean_version_source.startswith("unknown")  # not `lake env`
    assert proc.requests_served == 9 and proc.generation == 1


def test_request_forms(proc: ReplProcess, tmp_path: Path) -> None:
    env = proc.header_env(HEADER)
    two = "theorem two_steps (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  exact hp\n  exact hq"
    r = proc.command(two, env=env, all_tactics=True, root_goals=True, infotree="original")
    assert r.ok and [t.tactic for t in r.tactics] == ["constructor", "exact hp", "exact hq"]
    assert r.tactics[1].pos.line == 3 and r.tactics[1].proof_state is not None
    assert len(r.sorries) == 1 and r.sorries[0].goal.startswith("p q : Prop")  # the root goal
    assert isinstance(r.infotree, list) and r.infotree[0]["kind"] == "TacticInfo"
    ax = proc.command("#print axioms two_steps", env=r.env)
    assert ax.messages[0].data == "'two_steps' does not depend on any axioms"
    # a tactic from allTactics can be driven
    st = proc.tactic("exact hp", r.tactics[1].proof_state)
    assert isinstance(st, TacticState) and st.pp.startswith("case right")
    # file mode
    f = tmp_path / "t.lean"
    f.write_text("theorem t1 (x : Nat) : x = x := by\n  native_decide\n\n#print axioms t1\n")
    fr = proc.file(f, all_tactics=True, env=env)
    assert fr.ok and fr.messages[0].data == "'t1' depends on axioms: [propext, Lean.ofReduceBool]"
    assert proc.file(tmp_path / "missing.lean").error is not None
    # pickling
    ps = root_state(proc)
    assert proc.pickle_env(env, tmp_path / "e.olean").env == env
    u = proc.unpickle_env(tmp_path / "e.olean")
    assert u.ok and u.env not in (None, env)
    assert isinstance(proc.command(T1, env=u.env).sorries[0].proof_state, int)
    pst = proc.pickle_proof_state(ps, tmp_path / "s.olean")
    assert isinstance(pst, TacticState) and pst.pp == GOAL
    for e in (None, env):
        back = proc.unpickle_proof_state(tmp_path / "s.olean", env=e)
        assert isinstance(back, TacticState) and back.pp == GOAL
        assert isinstance(proc.tactic("rfl", back.id), ProofFinished)
    raw = proc.request({"cmd": "#print axioms t1", "env": fr.env})
    assert raw == {
        "messages": [
            {
                "severity": "info",
                "pos": {"line": 1, "column": 0},
                "endPos": {"line": 1, "column": 6},
                "data": "'t1' depends on axioms: [propext, Lean.ofReduceBool]",
            }
        ],
        "env": raw["env"],
    }


def test_framing_long_unicode_and_stray_output(proc: ReplProcess, tmp_path: Path) -> None:
    env = proc.header_env(HEADER)
    # 300 KB request (several pipe buffers), newlines and non-ASCII in strings, blank lines inside the text
    filler = "\n\n".join(f"-- comment {i} ∀ε>0 “quotes” \\ back\\slash \t tab" for i in range(6000))
    r = proc.command(filler + "\n\n" + T1, env=env)
    assert r.ok and r.sorries[0].goal == GOAL and r.sorries[0].pos.line == 12001
    # stray stdout line before the JSON answer is tolerated
    script = json.loads(BASIC.read_text())
    script["tactics"][GOAL]["chatty"] = {"goals": [], "axioms": [], "noise": "stray line from native code"}
    s = tmp_path / "s.json"
    s.write_text(json.dumps(script))
    with ReplProcess(cfg(), command=double_cmd(s)) as p:
        assert isinstance(p.tactic("chatty", root_state(p)), ProofFinished)
        assert p.generation == 1


def test_header_error_raises_input_error(tmp_path: Path) -> None:
    script = json.loads(BASIC.read_text())
    script["modules"] = ["Mathlib"]
    s = tmp_path / "s.json"
    s.write_text(json.dumps(script))
    with ReplProcess(cfg(), command=double_cmd(s)) as p:
        with pytest.raises(LeanInputError, match="unknown module prefix 'Mathllib'"):
            p.header_env("import Mathllib")
        assert isinstance(p.header_env("import Mathlib"), int)


# ---------------------------------------------------------------------------------------------------
# faults


def test_timeout_then_next_request_works_with_header_restored(proc: ReplProcess) -> None:
    ps = root_state(proc)
    pid, gen = proc.pid, proc.generation
    t0 = time.monotonic()
    with pytest.raises(LeanTimeout, match=r"no answer within 0\.5s"):
        proc.tactic("slow", ps, timeout=0.5)
    assert time.monotonic() - t0 < 2.5
    assert gone(pid) and proc.pid != pid and proc.generation == gen + 1
    assert proc.has_header(HEADER)  # re-established right after the restart
    ps2 = root_state(proc)
    assert isinstance(proc.tactic("rfl", ps2), ProofFinished)


def test_timeout_kills_the_whole_process_group() -> None:
    # like `lake env repl`: a wrapper shell whose child is the REPL
    wrapper = ["sh", "-c", " ".join(f"'{a}'" for a in double_cmd()) + "; echo wrapper-done >&2"]
    with ReplProcess(cfg(), command=wrapper) as p:
        ps = root_state(p)
        shell = psutil.Process(p.pid)
        repl_pids = [c.pid for c in shell.children(recursive=True)]
        assert repl_pids
        with pytest.raises(LeanTimeout):
            p.tactic("stall", ps, timeout=0.5)
        assert all(gone(x) for x in [shell.pid, *repl_pids])
        assert isinstance(p.tactic("rfl", root_state(p)), ProofFinished)


def test_crash_mid_answer(proc: ReplProcess) -> None:
    ps = root_state(proc)
    with pytest.raises(LeanCrashed, match="mid-answer") as ei:
        proc.tactic("boom", ps)
    assert "scripted crash" in str(ei.value)  # stderr tail is in the message
    assert proc.generation == 2 and proc.has_header(HEADER)
    assert isinstance(proc.tactic("rfl", root_state(proc)), ProofFinished)


def test_garbage(proc: ReplProcess) -> None:
    with pytest.raises(LeanCrashed, match="garbage"):
        proc.tactic("junk", root_state(proc))
    assert proc.generation == 2
    assert isinstance(proc.tactic("rfl", root_state(proc)), ProofFinished)


def test_stall_is_a_timeout(proc: ReplProcess) -> None:
    with pytest.raises(LeanTimeout):
        proc.tactic("stall", root_state(proc), timeout=0.3)
    assert isinstance(proc.tactic("rfl", root_state(proc)), ProofFinished)


def test_memory_cap() -> None:
    with ReplProcess(cfg(memory_limit_mb=256), command=double_cmd()) as p:
        limits = Path(f"/proc/{p.pid}/limits").read_text()
        assert str(256 << 20) in limits  # RLIMIT_AS applied in the child
        with pytest.raises(LeanCrashed, match="memory cap"):
            p.tactic("hog", root_state(p))
        assert isinstance(p.tactic("rfl", root_state(p)), ProofFinished)


def test_die_after_k_requests() -> None:
    with ReplProcess(cfg(), command=double_cmd(BASIC, "--die-after", "3")) as p:
        ps = root_state(p)  # requests 1 (header) and 2
        assert isinstance(p.tactic("grow", ps), TacticState)  # 3: answered, then the double exits
        with pytest.raises(LeanCrashed):
            p.tactic("rfl", ps)  # the old proof state is gone either way
        assert p.generation == 2 and p.has_header(HEADER)  # header restore was request 1 of the new process
        assert isinstance(p.tactic("rfl", root_state(p)), ProofFinished)


def test_process_killed_while_idle(proc: ReplProcess) -> None:
    ps = root_state(proc)
    os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.1)
    with pytest.raises(LeanCrashed, match="had died"):
        proc.tactic("rfl", ps)  # carries a proofState id of the dead generation
    os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.1)
    r = proc.command("#check Nat")  # no ids: sent to a fresh process transparently
    assert r.ok and proc.generation == 3


def test_broken_command_is_a_setup_error() -> None:
    with pytest.raises(LeanSetupError, match="cannot start"):
        ReplProcess(cfg(), command=["/nonexistent/repl"]).start()
    p = ReplProcess(cfg(), command=[sys.executable, "-c", "import sys; sys.stderr.write('no REPL here'); sys.exit(3)"])
    with pytest.raises(LeanSetupError, match="no REPL here"):
        for _ in range(5):
            with pytest.raises(LeanCrashed):
                p.command("#check Nat")
    p.close()


def test_close_during_request_fails_fast(proc: ReplProcess) -> None:
    ps = root_state(proc)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            proc.tactic("stall", ps, timeout=10)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.close()
    t.join(3)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    # closed for good (shutting down): not a crash to retry on a restarted process
    assert len(errors) == 1 and isinstance(errors[0], LeanSetupError) and "closed" in str(errors[0])
    with pytest.raises(LeanSetupError):
        proc.command("#check Nat")


# ---------------------------------------------------------------------------------------------------
# recycling and header pickles


def test_recycle_after_n_requests() -> None:
    with ReplProcess(cfg(max_requests=3), command=double_cmd()) as p:
        ps = root_state(p)  # 2 requests
        assert isinstance(p.tactic("grow", ps), TacticState)  # 3
        pid = p.pid
        # a request with ids is never recycled under the caller's feet
        assert isinstance(p.tactic("rfl", ps), ProofFinished)
        assert p.pid == pid and p.generation == 1
        env = p.header_env(HEADER)  # safe point: recycled, header re-established
        assert p.pid != pid and p.generation == 2 and p.requests_served == 1 and isinstance(env, int)
        assert gone(pid)
        assert isinstance(p.tactic("rfl", root_state(p)), ProofFinished)


def test_recycle_above_rss() -> None:
    with ReplProcess(cfg(max_rss_mb=60), command=double_cmd()) as p:
        ps = root_state(p)
        assert not p.maybe_recycle()
        p.tactic("grow", ps)  # holds 64 MiB more
        assert p.rss_mb() > 60
        assert p.maybe_recycle() and p.generation == 2 and p.rss_mb() < 60
        assert p.has_header(HEADER)


def test_header_pickle_restores_new_processes(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    c = cfg(header_pickle_dir=tmp_path / "pickles", record_path=rec)
    with ReplProcess(c, command=double_cmd()) as p1:
        p1.header_env(HEADER)
        pickles = list((tmp_path / "pickles").glob("header-*.olean"))
        assert len(pickles) == 1
        with pytest.raises(LeanTimeout):
            p1.tactic("slow", root_state(p1), timeout=0.3)
        assert p1.has_header(HEADER)
    with ReplProcess(c, command=double_cmd()) as p2:
        env = p2.header_env(HEADER)
        assert isinstance(p2.tactic("rfl", p2.command(T1, env=env).sorries[0].proof_state), ProofFinished)
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    header_reqs = [list(x["request"]) for x in lines if x.get("header") == HEADER]
    # first: elaborated; after the timeout and in the new process: unpickled
    assert header_reqs == [["cmd"], ["unpickleEnvFrom"], ["unpickleEnvFrom"]]
    # a stale/corrupt pickle: the REPL dies unpickling it; we drop the pickle and elaborate instead
    pickles[0].write_text("corrupt")
    with ReplProcess(c, command=double_cmd()) as p3:
        assert isinstance(p3.header_env(HEADER), int)
        assert p3.has_header(HEADER) and pickles[0].read_text() != "corrupt"
