"""Recording a REPL session to JSONL and replaying it deterministically."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from prover.lean.config import LeanConfig
from prover.lean.record import ReplayMismatch, ReplayProcess
from prover.lean.repl import ReplProcess
from prover.lean.types import LeanCrashed, LeanSetupError, LeanTimeout

DOUBLE = Path(__file__).parent / "double" / "repl_double.py"
BASIC = Path(__file__).parent / "double" / "scripts" / "basic.json"
CMD = [sys.executable, str(DOUBLE), "--script", str(BASIC)]
HEADER = "import Mathlib\nopen Nat"
T1 = "theorem t1 (x : Nat) : x = x := by sorry"


def cfg(**kw) -> LeanConfig:
    base = {"timeout": 3.0, "header_timeout": 3.0, "memory_limit_mb": None, "max_rss_mb": None}
    base.update(kw)
    return LeanConfig(**base)


def session(p) -> list[object]:
    """A fixed sequence of calls; returns results and exception types in order."""
    out: list[object] = []

    def call(f, *a, **k) -> object:
        try:
            r = f(*a, **k)
        except (LeanTimeout, LeanCrashed) as e:
            r = type(e)
        out.append(r)
        return r

    env = call(p.header_env, HEADER)
    r = call(p.command, T1, env=env)
    ps = r.sorries[0].proof_state
    for tac in ("grow", "bad", "nope", "simp"):
        call(p.tactic, tac, ps)
    call(p.tactic, "slow", ps, timeout=0.3)
    out.append(p.generation)
    env = call(p.header_env, HEADER)
    r = call(p.command, T1, env=env)
    call(p.tactic, "junk", r.sorries[0].proof_state)
    out.append(p.generation)
    proof = "theorem t1 (x : Nat) : x = x := by\n  native_decide"
    r = call(p.command, proof, env=p.header_env(HEADER), all_tactics=True)
    call(p.command, "#print axioms t1", env=r.env)
    return out


def test_record_then_replay_equals(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    with ReplProcess(cfg(record_path=rec), command=CMD) as p:
        live = session(p)
    assert LeanTimeout in live and LeanCrashed in live and live[7] == 2
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    assert all("request" in x and ("response" in x) != ("error" in x) and x["seconds"] >= 0 for x in lines)
    assert {x["error"]["type"] for x in lines if "error" in x} == {"LeanTimeout", "LeanCrashed"}
    assert any(x.get("header") == HEADER for x in lines)

    first = session(ReplayProcess(rec))
    second = session(ReplayProcess(rec, cfg()))
    assert first == live and second == live  # deterministic, equal to the live run


def test_replay_of_unrecorded_request(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    with ReplProcess(cfg(record_path=rec), command=CMD) as p:
        p.command("#check Nat")
    r = ReplayProcess(rec)
    assert r.command("#check Nat").ok
    assert r.command("#check Nat").ok  # asked more often than recorded: the last answer again
    with pytest.raises(ReplayMismatch, match="not in the recording") as ei:
        r.command("#check Int")
    assert isinstance(ei.value, LeanSetupError)
    with pytest.raises(LeanSetupError, match="not found"):
        ReplayProcess(tmp_path / "missing.jsonl")


def test_concurrent_recording_lines_stay_whole(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    big = "-- " + "x" * 20000 + "\n" + T1

    def work() -> None:
        with ReplProcess(cfg(record_path=rec), command=CMD) as p:
            for _ in range(10):
                assert p.command(big).ok

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    lines = rec.read_text().splitlines()
    assert len(lines) == 40
    assert len({json.loads(x)["proc"] for x in lines}) == 4
