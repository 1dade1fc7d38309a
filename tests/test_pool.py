"""ReplPool under concurrent use, against real subprocesses of the protocol double."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from prover.lean.config import LeanConfig
from prover.lean.pool import ReplPool
from prover.lean.record import ReplayProcess
from prover.lean.types import LeanCrashed, LeanInputError, LeanSetupError, ProofFinished, TacticState

DOUBLE = Path(__file__).parent / "double" / "repl_double.py"
BASIC = Path(__file__).parent / "double" / "scripts" / "basic.json"
CMD = [sys.executable, str(DOUBLE), "--script", str(BASIC)]
HEADER_A = "import Mathlib\nopen Nat"
HEADER_B = "import Mathlib\nopen Real"
T1 = "theorem t1 (x : Nat) : x = x := by sorry"
TWO = "theorem two_steps (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry"


def cfg(**kw) -> LeanConfig:
    base = {"timeout": 3.0, "header_timeout": 3.0, "memory_limit_mb": None, "max_rss_mb": None, "num_processes": 2}
    base.update(kw)
    return LeanConfig(**base)


def prove_two_steps(proc, header: str) -> bool:
    env = proc.header_env(header)
    r = proc.command(TWO, env=env)
    s1 = proc.tactic("constructor", r.sorries[0].proof_state)
    assert isinstance(s1, TacticState) and s1.num_goals == 2
    s2 = proc.tactic("exact hp", s1.id)
    s3 = proc.tactic("exact hq", s2.id)
    return isinstance(s3, ProofFinished)


def test_concurrent_threads_share_two_processes() -> None:
    users: dict[int, int] = {}
    peak = {"procs": 0, "busy": 0}
    busy = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []
    results: list[bool] = []

    def worker(i: int, pool: ReplPool) -> None:
        try:
            for k in range(6):
                header = HEADER_A if (i + k) % 3 else HEADER_B
                with pool.acquire(header) as proc:
                    with lock:
                        users[id(proc)] = users.get(id(proc), 0) + 1
                        assert users[id(proc)] == 1, "a process was handed to two threads at once"
                        busy[0] += 1
                        peak["busy"] = max(peak["busy"], busy[0])
                        peak["procs"] = max(peak["procs"], len(pool.processes))
                    assert proc.has_header(header)
                    ok = prove_two_steps(proc, header)
                    with lock:
                        users[id(proc)] -= 1
                        busy[0] -= 1
                        results.append(ok)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    with ReplPool(cfg(), command=CMD) as pool:
        threads = [threading.Thread(target=worker, args=(i, pool)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert len(results) == 48 and all(results)
        assert peak["procs"] == 2 and peak["busy"] <= 2
        procs = pool.processes
        assert all(p.alive() for p in procs)
    assert not any(p.alive() for p in procs)  # closed with the pool


def test_prefers_a_process_with_the_header() -> None:
    with ReplPool(cfg(), command=CMD) as pool:
        with pool.acquire(HEADER_A) as a:
            pass
        with pool.acquire(HEADER_B) as b:
            assert b is not a  # a new process rather than loading a second header into `a`
        for _ in range(3):
            with pool.acquire(HEADER_A) as p:
                assert p is a
            with pool.acquire(HEADER_B) as p:
                assert p is b
        assert b.requests_served == 1 and a.requests_served == 1  # each header elaborated once


def test_blocks_while_all_busy() -> None:
    with ReplPool(cfg(num_processes=1), command=CMD) as pool:
        got = threading.Event()

        def second() -> None:
            with pool.acquire(HEADER_A):
                got.set()

        with pool.acquire(HEADER_A):
            t = threading.Thread(target=second)
            t.start()
            assert not got.wait(0.3)  # blocked
        assert got.wait(2)
        t.join(2)
        assert len(pool.processes) == 1


def test_fault_inside_acquire_keeps_pool_usable() -> None:
    with ReplPool(cfg(num_processes=1), command=CMD) as pool:
        with pool.acquire(HEADER_A) as p:
            r = p.command(T1, env=p.header_env(HEADER_A))
            with pytest.raises(LeanCrashed):
                p.tactic("boom", r.sorries[0].proof_state)
        with pool.acquire(HEADER_A) as p2:
            assert p2 is p and p2.generation == 2 and p2.has_header(HEADER_A)
            assert prove_two_steps(p2, HEADER_A)


def test_header_error_and_close() -> None:
    pool = ReplPool(cfg(num_processes=1), command=CMD)
    with pytest.raises(LeanInputError), pool.acquire("import Mathlib\ntheorem bad_statement : 1 = 1 := by sorry"):
        pass
    with pool.acquire(HEADER_A) as p:  # the process was released
        assert p.has_header(HEADER_A)
    pool.close()
    with pytest.raises(LeanSetupError, match="closed"), pool.acquire(HEADER_A):
        pass


def test_unstartable_process_is_dropped() -> None:
    pool = ReplPool(cfg(num_processes=1), command=["/nonexistent/repl"])
    with pytest.raises(LeanSetupError), pool.acquire(HEADER_A):
        pass
    assert pool.processes == []
    pool.close()


def test_replay_pool(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    with ReplPool(cfg(record_path=rec), command=CMD) as pool, pool.acquire(HEADER_A) as p:
        assert prove_two_steps(p, HEADER_A)
    t0 = time.monotonic()
    with ReplPool(cfg(replay_path=rec)) as pool, pool.acquire(HEADER_A) as p:
        assert isinstance(p, ReplayProcess)
        assert prove_two_steps(p, HEADER_A)
    assert time.monotonic() - t0 < 0.5
