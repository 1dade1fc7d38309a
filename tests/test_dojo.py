"""`DojoEnv` (LeanEnv over LeanDojo): the mapping of LeanDojo's results and errors, the replay after a
crash, and the check path -- on an in-process stand-in for the ``lean_dojo`` module (its real API:
``Dojo``, ``TacticState``, ``ProofFinished``, ``LeanError``, ``ProofGivenUp``, ``check_proof``). A real
traced repo is exercised by the ``lean``-marked tests in test_lean_integration.py."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prover.lean.dojo import DojoEnv, _proof_part
from prover.lean.env import LeanEnv
from prover.lean.types import (
    LeanCrashed,
    LeanError,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    ProofFinished,
    TacticState,
    Theorem,
)

ROOT = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT, RIGHT = "case left\nhp : p\n⊢ p", "case right\nhq : q\n⊢ q"


def fake_lean_dojo(log: list) -> types.ModuleType:
    m = types.ModuleType("lean_dojo")

    @dataclass(frozen=True)
    class TState:
        pp: str
        id: int = field(compare=False)
        message: str | None = field(default=None, compare=False)

    @dataclass(frozen=True)
    class PF:
        tactic_state_id: int
        message: str | None = None

    class PGU:
        pass

    @dataclass(frozen=True)
    class LE:
        error: str

    class DojoInitError(Exception):
        pass

    class DojoCrashError(Exception):
        pass

    class DojoTacticTimeoutError(Exception):
        pass

    @dataclass(frozen=True)
    class LeanGitRepo:
        url: str
        commit: str

    @dataclass(frozen=True)
    class Thm:
        repo: LeanGitRepo
        file_path: Path
        full_name: str

    table = {
        ROOT: {"constructor": LEFT + "\n\n" + RIGHT, "sorry": "GIVEUP", "nope": "ERR", "boom": "CRASH", "slow": "TO"},
        LEFT + "\n\n" + RIGHT: {"exact hp": RIGHT},
        RIGHT: {"exact hq": ""},
    }

    class Dojo:
        def __init__(self, entry, timeout=600, additional_imports=(), build_deps=True):
            self.entry, self.timeout = entry, timeout
            self.proc = types.SimpleNamespace(timeout=timeout)
            self.n = 0

        def __enter__(self):
            log.append(("enter", self.entry.full_name))
            if self.entry.full_name == "missing":
                raise DojoInitError("Failed to locate the theorem")
            return self, TState(ROOT, 0)

        def __exit__(self, *exc):
            log.append(("exit",))

        def run_tac(self, state, tactic):
            log.append(("tac", tactic, self.proc.timeout))
            self.n += 1
            out = table.get(state.pp, {}).get(tactic, "ERR")
            if out == "ERR":
                return LE(f"unknown tactic {tactic}")
            if out == "GIVEUP":
                return PGU()
            if out == "CRASH":
                raise DojoCrashError("Unexpected EOF")
            if out == "TO":
                raise DojoTacticTimeoutError()
            if out == "":
                return PF(self.n)
            return TState(out, self.n)

    def check_proof(thm, proof):
        log.append(("check_proof", thm.full_name, proof))
        return "linarith" not in proof

    m.TacticState, m.ProofFinished, m.ProofGivenUp, m.LeanError = TState, PF, PGU, LE
    m.DojoInitError, m.DojoCrashError, m.DojoTacticTimeoutError = DojoInitError, DojoCrashError, DojoTacticTimeoutError
    m.LeanGitRepo, m.Theorem, m.Dojo, m.check_proof = LeanGitRepo, Thm, Dojo, check_proof
    m.is_available_in_cache = lambda repo: repo.commit != "untraced"
    return m


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list:
    events: list = []
    monkeypatch.setitem(sys.modules, "lean_dojo", fake_lean_dojo(events))
    return events


META = {"repo": "https://github.com/x/y", "commit": "abc", "file_path": "Y/Basic.lean"}
THM = Theorem("and_swap", "theorem and_swap (p q : Prop) (hp : p) (hq : q) : p ∧ q := by", meta=META)


def test_dojo_env_maps_results(log: list) -> None:
    env = DojoEnv()
    assert isinstance(env, LeanEnv)
    root = env.start(THM)
    assert root.pp == ROOT and root.goals == (ROOT,)
    s1 = env.run_tactic(root, "constructor", timeout=7)
    assert isinstance(s1, TacticState) and s1.goals == (LEFT, RIGHT)
    assert ("tac", "constructor", 7) in log
    s2 = env.run_tactic(s1, "exact hp")
    done = env.run_tactic(s2, "exact hq")
    assert isinstance(done, ProofFinished) and env.proof_path(done) == ["constructor", "exact hp", "exact hq"]
    assert isinstance(env.run_tactic(root, "sorry"), LeanError)  # ProofGivenUp
    err = env.run_tactic(root, "nope")
    assert isinstance(err, LeanError) and "unknown tactic nope" in err.error
    env.close()
    assert log[-1] == ("exit",)


def test_dojo_env_crash_timeout_and_replay(log: list) -> None:
    env = DojoEnv()
    root = env.start(THM)
    s1 = env.run_tactic(root, "constructor")
    with pytest.raises(LeanCrashed):
        env.run_tactic(root, "boom")
    s2 = env.run_tactic(s1, "exact hp")  # a new Dojo, `constructor` replayed
    assert isinstance(s2, TacticState) and env.replays == 1
    assert [e[0] for e in log].count("enter") == 2
    with pytest.raises(LeanTimeout):
        env.run_tactic(root, "slow")
    assert isinstance(env.run_tactic(s2, "exact hq"), ProofFinished)
    assert env.replays == 3


def test_dojo_env_input_and_setup_errors(log: list) -> None:
    env = DojoEnv()
    with pytest.raises(LeanInputError, match="needs meta repo, commit and file_path"):
        env.start(Theorem("t", "theorem t : True := by"))
    with pytest.raises(LeanSetupError, match="not traced"):
        env.start(Theorem("t", "theorem t : True := by", meta=dict(META, commit="untraced")))
    with pytest.raises(LeanInputError, match="could not start"):
        env.start(Theorem("missing", "theorem missing : True := by", meta=META))
    # repo / commit given once to the env
    env2 = DojoEnv(repo="https://github.com/x/y", commit="abc")
    assert env2.start(Theorem("t", "theorem t : True := by", meta={"file_path": "Y/B.lean"})).pp == ROOT


def test_dojo_check(log: list) -> None:
    env = DojoEnv()
    res = env.check(THM, THM.with_proof("exact ⟨hp, hq⟩"))
    assert res.sound
    assert log[-1] == ("check_proof", "and_swap", "by\n  exact ⟨hp, hq⟩")
    assert not env.check(THM, THM.with_proof("linarith")).sound
    res = env.check(THM, THM.with_proof("native_decide"))
    assert not res.sound and "native_decide" in res.reasons[0]
    assert not env.check(THM, THM.with_proof("sorry")).sound
    res = env.check(THM, "axiom cheat : False\n" + THM.with_proof("exact cheat.elim"))
    assert not res.sound and res.reasons == ("line 1: declares an axiom",)
    res = env.check(THM, "theorem and_swap (p q : Prop) (hp : p) (hq : q) : q ∧ p := by\n  simp_all")
    assert not res.sound and res.reasons[-1] == "the statement of and_swap was changed"


def test_proof_part() -> None:
    th = Theorem("t", "theorem t (a : ℕ) :\n  a = a := by")
    assert _proof_part(th, "theorem t (a : ℕ) : a = a := by\n  rfl") == "by\n  rfl"
    assert _proof_part(th, "-- c\ntheorem t (a : ℕ) : /- x -/ a = a :=\n  rfl") == "rfl"
