"""Search through the real `ReplEnv` and REPL transport, against the REPL protocol double (a separate
process): both algorithms find the multi-goal proof, budgets hold, crash / timeout edges are survived."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fakes import ScriptedGenerator

from prover.config import load_config
from prover.lean.types import Theorem
from search import build_search
from search.config import SearchConfig
from search.proof_text import proof_text

DOUBLE = Path(__file__).resolve().parents[1] / "tests" / "double" / "repl_double.py"

ROOT = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
BOTH = f"{LEFT}\n\n{RIGHT}"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {"two": {"goals": [ROOT]}, "_prover_gate_ref": {"goals": [ROOT]}},
    "tactics": {
        ROOT: {
            "constructor": {"goals": [LEFT, RIGHT]},
            "boom": {"crash": True},
            "slow": {"sleep": 30},
            "bad": {"error": "unknown identifier 'bad'"},
        },
        BOTH: {"exact hp": {"goals": [RIGHT]}, "exact hq": {"error": "type mismatch"}},
        RIGHT: {"exact hq": {"goals": [], "axioms": []}},
    },
}
THM = Theorem("two", "theorem two (p q : Prop) (hp : p) (hq : q) : p ∧ q := by")


@pytest.fixture
def env(tmp_path: Path):
    repl_env = pytest.importorskip("prover.lean.repl_env")
    if not DOUBLE.is_file():
        pytest.skip("REPL protocol double not present")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cfg = load_config(
        overrides={
            "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(script)],
            "lean.project_dir": str(tmp_path),
            "lean.timeout": 1.5,
            "lean.memory_limit_mb": None,
        }
    )
    with repl_env.ReplEnv(cfg.lean) as e:
        yield e


GEN = {ROOT: ["bad", "boom", "slow", "constructor"], BOTH: ["exact hq", "exact hp"], RIGHT: ["exact hq"]}


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["best_first", "mps"])
def test_finds_multigoal_proof_through_faults(env, algorithm: str) -> None:
    search = build_search(SearchConfig(algorithm=algorithm, time_limit=60), tactic_timeout=1.5)
    res = search.search(env, env.start(THM), ScriptedGenerator(GEN), theorem=THM)
    assert res.proved, res.stop_reason
    assert res.tactics == ["constructor", "exact hp", "exact hq"]
    kinds = [e.kind for e in res.graph.edges]
    assert kinds[:4] == ["error", "crash", "timeout", "ok"]
    assert (res.stats.crashes, res.stats.timeouts) == (1, 1)
    check = env.check(THM, proof_text(THM, res.tactics))
    assert check.sound, check.reasons


def test_budget_on_the_double(env) -> None:
    search = build_search(SearchConfig(max_lean_calls=2), tactic_timeout=1.5)
    res = search.search(env, env.start(THM), ScriptedGenerator({ROOT: ["bad", "constructor"], BOTH: ["exact hp"]}))
    assert not res.proved and res.stop_reason == "lean_calls" and res.stats.lean_calls == 2
