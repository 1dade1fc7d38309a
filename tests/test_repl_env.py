"""`ReplEnv` (the LeanEnv over the REPL) on the REPL protocol double: states, failures, the gate, and
surviving a crash / timeout on one edge by replaying tactic paths on the restarted process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prover.lean.config import LeanConfig
from prover.lean.env import LeanEnv
from prover.lean.repl_env import ReplEnv
from prover.lean.types import (
    LeanCrashed,
    LeanError,
    LeanInputError,
    LeanTimeout,
    ProofFinished,
    TacticState,
    Theorem,
)

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

ROOT = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {
        "and_swap": {"goals": [ROOT]},
        "bad_statement": {"error": "type mismatch\n  x\nhas type\n  Nat : Type"},
    },
    "tactics": {
        ROOT: {
            "constructor": {"goals": [LEFT, RIGHT]},
            "boom": {"crash": True},
            "slow": {"sleep": 30},
            "junk": {"garbage": True},
            "nope": {"error": "unknown identifier 'nope'"},
            "exact ⟨hp, hq⟩": {"goals": [], "axioms": []},
            "native_decide": {"goals": [], "axioms": ["Lean.ofReduceBool"]},
        },
        LEFT + "\n\n" + RIGHT: {"exact hp": {"goals": [RIGHT]}, "boom": {"crash": True}},
        RIGHT: {"exact hq": {"goals": [], "axioms": []}},
    },
}
THM = Theorem("and_swap", "theorem and_swap (p q : Prop) (hp : p) (hq : q) : p ∧ q := by", header="import Mathlib")


def _config(tmp_path: Path, **kw) -> tuple[LeanConfig, list[str]]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    base = dict(timeout=10, header_timeout=10, memory_limit_mb=None, max_rss_mb=None)
    base.update(kw)
    return LeanConfig(**base), [sys.executable, str(DOUBLE), "--script", str(script)]


@pytest.fixture
def env(tmp_path: Path):
    cfg, cmd = _config(tmp_path)
    with ReplEnv(cfg, command=cmd, cwd=REPO) as e:
        yield e


def test_is_a_lean_env(env: ReplEnv) -> None:
    assert isinstance(env, LeanEnv)


def test_start_and_steps(env: ReplEnv) -> None:
    root = env.start(THM)
    assert isinstance(root, TacticState) and root.pp == ROOT and root.goals == (ROOT,)
    s1 = env.run_tactic(root, "constructor")
    assert isinstance(s1, TacticState) and s1.goals == (LEFT, RIGHT) and s1.num_goals == 2
    s2 = env.run_tactic(s1, "exact hp")
    done = env.run_tactic(s2, "exact hq")
    assert isinstance(done, ProofFinished)
    assert env.proof_path(done) == ["constructor", "exact hp", "exact hq"]
    err = env.run_tactic(root, "nope")
    assert isinstance(err, LeanError) and "unknown identifier 'nope'" in err.error
    unknown = env.run_tactic(root, "omega")
    assert isinstance(unknown, LeanError)
    # root command + 5 tactics (the pool elaborated the header while handing out the process)
    assert env.lean_calls == 6 and env.replays == 0
    # the same theorem again reuses the live root state: no request
    again = env.start(THM)
    assert again == root and again.id == root.id and env.lean_calls == 6
    assert env.lean_version is None  # the double is not run by `lake env`: no version is invented


def test_bad_statement_is_input_error(env: ReplEnv) -> None:
    bad = Theorem("bad_statement", "theorem bad_statement : x := by", header="import Mathlib")
    with pytest.raises(LeanInputError, match=r"^bad_statement: 1:8: type mismatch$"):
        env.start(bad)


def test_bad_header_is_input_error(tmp_path: Path) -> None:
    cfg, cmd = _config(tmp_path)
    SCRIPT_MODULES = dict(SCRIPT, modules=["Mathlib"])
    (tmp_path / "script.json").write_text(json.dumps(SCRIPT_MODULES))
    with ReplEnv(cfg, command=cmd, cwd=REPO) as env:
        th = Theorem("and_swap", THM.statement, header="import Mathlib.Nope")
        with pytest.raises(LeanInputError, match=r"^and_swap: header: .*unknown module prefix"):
            env.start(th)


def test_states_are_replayed_after_a_crash(env: ReplEnv) -> None:
    root = env.start(THM)
    s1 = env.run_tactic(root, "constructor")
    with pytest.raises(LeanCrashed):
        env.run_tactic(s1, "boom")  # the process died on this edge and was restarted
    calls = env.lean_calls
    # an old state is still usable: its path (root command + `constructor`) is replayed transparently
    s2 = env.run_tactic(s1, "exact hp")
    assert isinstance(s2, TacticState) and s2.goals == (RIGHT,)
    # root command, replayed `constructor`, the step itself (the restart re-elaborated the header already)
    assert env.replays == 1 and env.lean_calls == calls + 3
    assert isinstance(env.run_tactic(s2, "exact hq"), ProofFinished)
    # the root too, and states handed out before the crash keep their ids
    assert isinstance(env.run_tactic(root, "exact ⟨hp, hq⟩"), ProofFinished)
    assert env.replays == 1


def test_states_survive_timeout_and_garbage(tmp_path: Path) -> None:
    cfg, cmd = _config(tmp_path, timeout=1.0)
    with ReplEnv(cfg, command=cmd, cwd=REPO) as env:
        root = env.start(THM)
        s1 = env.run_tactic(root, "constructor")
        with pytest.raises(LeanTimeout):
            env.run_tactic(root, "slow", timeout=0.5)
        assert isinstance(env.run_tactic(s1, "exact hp"), TacticState)
        with pytest.raises(LeanCrashed):
            env.run_tactic(root, "junk")
        s2 = env.run_tactic(s1, "exact hp")
        assert isinstance(env.run_tactic(s2, "exact hq"), ProofFinished)
        assert env.replays == 2


def test_foreign_state_is_rejected(env: ReplEnv) -> None:
    env.start(THM)
    with pytest.raises(ValueError, match="not handed out"):
        env.run_tactic(TacticState.of_goals(["⊢ False"], 12345), "simp")


def test_check_uses_the_gate(env: ReplEnv) -> None:
    root = env.start(THM)
    assert env.check(THM, THM.with_proof("constructor\nexact hp\nexact hq")).sound
    res = env.check(THM, THM.with_proof("native_decide"))
    assert not res.sound and "Lean.ofReduceBool" in res.reasons[0]
    res = env.check(THM, THM.with_proof("constructor\nsorry\nsorry"))
    assert not res.sound and "contains sorry" in res.reasons
    # states from before the check are still valid
    assert isinstance(env.run_tactic(root, "constructor"), TacticState)


def test_shared_pool_and_given_process(tmp_path: Path) -> None:
    from prover.lean.pool import ReplPool
    from prover.lean.repl import ReplProcess

    cfg, cmd = _config(tmp_path, num_processes=2)
    with ReplPool(cfg, command=cmd, cwd=REPO) as pool:
        a, b = ReplEnv(cfg, pool=pool), ReplEnv(cfg, pool=pool)
        ra, rb = a.start(THM), b.start(THM)
        assert isinstance(a.run_tactic(ra, "constructor"), TacticState)
        assert isinstance(b.run_tactic(rb, "exact ⟨hp, hq⟩"), ProofFinished)
        a.close()
        b.close()
        assert len(pool.processes) == 2  # each env held its own process
    with ReplProcess(cfg, command=cmd, cwd=REPO) as proc:
        env = ReplEnv(cfg, process=proc)
        assert isinstance(env.run_tactic(env.start(THM), "constructor"), TacticState)
        env.close()
        assert proc.alive()  # a given process is not closed by the env


def test_record_then_replay_offline(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    cfg, cmd = _config(tmp_path, record_path=rec)
    with ReplEnv(cfg, command=cmd, cwd=REPO) as env:
        root = env.start(THM)
        s1 = env.run_tactic(root, "constructor")
        env.run_tactic(s1, "exact hp")
        assert env.check(THM, THM.with_proof("exact ⟨hp, hq⟩")).sound
    assert rec.is_file() and rec.read_text().count("\n") >= 5
    for env in (ReplEnv.from_replay(rec), ReplEnv(LeanConfig(replay_path=rec))):
        with env:
            root = env.start(THM)
            assert root.pp == ROOT
            s1 = env.run_tactic(root, "constructor")
            assert isinstance(env.run_tactic(s1, "exact hp"), TacticState)
            assert env.check(THM, THM.with_proof("exact ⟨hp, hq⟩")).sound


def test_reset_between_theorems_is_where_a_long_lived_repl_recycles(tmp_path: Path) -> None:
    # A batch worker keeps its lease for one header across theorems; without a safe point between
    # theorems the REPL would never recycle and would hold every proof state it ever made.
    config, cmd = _config(tmp_path, max_requests=3)
    with ReplEnv(config, command=cmd) as env:
        root = env.start(THM)
        s = env.run_tactic(root, "constructor")
        assert isinstance(s, TacticState)
        assert isinstance(env.run_tactic(s, "exact hp"), TacticState)
        proc = env._lease_proc
        gen = proc.generation
        env.reset()
        assert proc.generation == gen + 1  # recycled: past max_requests, no state to protect
        root = env.start(THM)  # the next theorem starts on the fresh process
        assert isinstance(env.run_tactic(root, "exact ⟨hp, hq⟩"), ProofFinished)
