"""The agent: statuses, the soundness gate, seeds, lazily built components; and, on the REPL protocol
double through the real `ReplEnv`, the whole chain (transport, crash recovery, gate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fakes import ScriptedCritic, ScriptedEnv, ScriptedGenerator, ScriptedRetriever, theorem

from prover.agent import Agent
from prover.config import ProverConfig, load_config
from prover.lean.types import LeanError, LeanSetupError, Theorem
from retrieval.base import Premise

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

X = "x : Nat\n⊢ x = x"
SCRIPT = {
    "lean_version": "4.24.0-test",
    "theorems": {
        "t1": {"goals": [X]},
        "bad_statement": {"error": "type mismatch"},
        "slow_statement": {"goals": [X], "timeout": True},
    },
    "tactics": {
        X: {
            "rfl": {"goals": []},
            "native_decide": {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]},
            "bad": {"error": "unknown identifier 'bad'"},
            "boom": {"crash": True},
        }
    },
}


def cfg(**overrides) -> ProverConfig:
    return load_config(overrides={"search.time_limit": 30, **overrides})


def prove(gen, *, name="t1", config=None, env=None, **kw):
    env = env or ScriptedEnv(SCRIPT)
    with Agent(config or cfg(), env=env, generator=gen, **kw) as agent:
        return agent.prove(theorem(name)), env


def test_proved_passes_the_gate() -> None:
    gen = ScriptedGenerator({X: ["bad", "rfl"]})
    att, env = prove(gen)
    assert att.status == "proved" and att.proved
    assert att.proof == "theorem t1 : True := by\n  rfl"
    assert env.checks == [att.proof]
    assert (att.expansions, att.lean_calls) == (1, 2)
    assert att.lean_version == "4.24.0-test" and att.error is None and att.time > 0
    assert att.graph is not None and att.graph.proof_tactics() == ["rfl"]


def test_gate_rejection_then_sound_proof() -> None:
    gen = ScriptedGenerator({X: [("native_decide", -0.1), ("rfl", -1.0)]})
    att, env = prove(gen)
    assert att.status == "proved" and att.proof.endswith("rfl")
    assert len(env.checks) == 2
    assert att.graph.meta["gate_rejections"] == ["uses axiom Lean.ofReduceBool"]


def test_only_unsound_proof_is_not_reported() -> None:
    att, _ = prove(ScriptedGenerator({X: ["native_decide"]}))
    assert att.status == "failed" and att.proof is None
    assert att.graph.stop_reason == "exhausted"


def test_budget_spent_is_failed() -> None:
    att, _ = prove(ScriptedGenerator({X: ["bad"]}), config=cfg(**{"search.max_lean_calls": 1}))
    assert att.status == "failed" and att.error is None and att.graph.stop_reason == "lean_calls"


def test_statement_lean_rejects_is_error() -> None:
    att, _ = prove(ScriptedGenerator(), name="bad_statement")
    assert att.status == "error" and "Lean rejected the statement" in att.error and "\n" not in att.error
    assert att.graph is None


def test_statement_timeout_is_an_infrastructure_error() -> None:
    att, _ = prove(ScriptedGenerator(), name="slow_statement")
    assert att.status == "error" and att.error.startswith("LeanTimeout")


def test_repeated_crashes_are_error() -> None:
    att, _ = prove(ScriptedGenerator({X: ["boom"] * 3}), config=cfg(**{"search.max_crashes": 1}))
    assert att.status == "error" and "crashed 1 time(s)" in att.error and "stopped by: crashes" in att.error


def test_a_search_that_lost_a_tactic_to_a_crash_is_not_failed() -> None:
    """The subtree of the tactic Lean crashed on was never explored: "not proved" would be a guess."""
    att, _ = prove(ScriptedGenerator({X: ["boom", "bad"]}))
    assert att.status == "error" and att.error.startswith("LeanCrashed") and "stopped by: exhausted" in att.error
    att, _ = prove(ScriptedGenerator({X: ["bad"]}))
    assert att.status == "failed" and att.error is None


def test_generator_exception_is_error_not_raised() -> None:
    class Broken:
        def generate(self, states, premises, n, *, contexts=None):
            raise RuntimeError("CUDA out of memory\nwith details")

    att, _ = prove(Broken())
    assert att.status == "error" and att.error == "RuntimeError: CUDA out of memory with details"


def test_generation_error_during_search_is_error() -> None:
    from prover.errors import UserError

    class Down:
        def generate(self, states, premises, n, *, contexts=None):
            raise UserError("generation server at http://127.0.0.1:8000 does not answer")

    att, _ = prove(Down())
    assert att.status == "error" and "does not answer" in att.error


def test_lean_setup_fails_before_the_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.models as models

    built: list = []
    monkeypatch.setattr(models, "build_generator", lambda c: built.append(c), raising=False)

    class NoLean(ScriptedEnv):
        def start(self, theorem):
            raise LeanSetupError("lake not found")

    with Agent(cfg(), env=NoLean(SCRIPT)) as agent, pytest.raises(LeanSetupError):
        agent.prove(theorem("t1"))
    assert built == []


def test_keyboard_interrupt_and_setup_errors_propagate() -> None:
    class Interrupt:
        def generate(self, states, premises, n, *, contexts=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prove(Interrupt())

    class NoLean(ScriptedEnv):
        def start(self, theorem):
            raise LeanSetupError("lake not found")

    with pytest.raises(LeanSetupError):
        prove(ScriptedGenerator(), env=NoLean(SCRIPT))


def test_seed_reaches_the_generator_with_every_state() -> None:
    gen = ScriptedGenerator({X: ["rfl"]})
    with Agent(cfg(), env=ScriptedEnv(SCRIPT), generator=gen) as agent:
        att = agent.prove(theorem("t1"), seed=1234)
    assert att.seed == 1234 and gen.contexts and all(c.seed == 1234 for cs in gen.contexts for c in cs)


def test_components_built_lazily_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.models as models

    class ClosingGen(ScriptedGenerator):
        closed = False

        def close(self) -> None:
            ClosingGen.closed = True

    built: list = []
    monkeypatch.setattr(models, "build_generator", lambda c: built.append(c) or ClosingGen({X: ["rfl"]}), raising=False)
    critic = ScriptedCritic()
    monkeypatch.setattr(models, "build_critic", lambda c: critic, raising=False)
    env = ScriptedEnv(SCRIPT)
    config = cfg(**{"generator.num_samples": 3, "search.algorithm": "mps"})
    with Agent(config, env=env) as agent:
        att = agent.prove(theorem("t1"))
        assert agent.critic is critic
    assert att.proved and built == [config.generator]
    assert ClosingGen.closed and not env.closed  # injected env is not ours to close
    assert critic.calls and critic.closed  # the critic perspective ran; built here, so closed here

    with Agent(cfg(), env=env, generator=ScriptedGenerator()) as agent:
        assert agent.critic is None  # best-first needs no critic
        assert agent.retriever is None  # retrieval disabled


def test_env_reset_before_each_theorem() -> None:
    env = ScriptedEnv(SCRIPT)
    earlier = env.start(theorem("t1"))
    with Agent(cfg(), env=env, generator=ScriptedGenerator({X: ["rfl"]})) as agent:
        assert agent.prove(theorem("t1")).proved
    # LeanEnv.reset: states handed out before this theorem are dropped (ReplEnv may recycle its REPL)
    assert isinstance(env.run_tactic(earlier, "rfl"), LeanError)


def test_retriever_used_when_enabled() -> None:
    prem = [Premise("Eq.refl", "theorem Eq.refl ...")]
    retriever = ScriptedRetriever(prem)
    gen = ScriptedGenerator({X: ["rfl"]})
    config = cfg(**{"retrieval.enabled": True, "retrieval.k": 5})
    att, _ = prove(gen, config=config, retriever=retriever)
    assert att.proved and retriever.calls == [(X, theorem("t1"), 5)] and gen.calls[0][1] == [prem]


# --- integration: the REPL protocol double through ReplEnv -------------------------------------------------


def double_config(tmp_path: Path, script: dict, **overrides) -> ProverConfig:
    pytest.importorskip("prover.lean.repl_env")
    if not DOUBLE.is_file():
        pytest.skip("REPL protocol double not present")
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    return load_config(
        overrides={
            "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(path)],
            "lean.project_dir": str(tmp_path),
            "lean.timeout": 2.0,
            "lean.memory_limit_mb": None,
            "search.time_limit": 60,
            **overrides,
        }
    )


def with_gate_ref(script: dict, name: str) -> dict:
    """The gate elaborates the original statement as `_prover_gate_ref`; the double needs its goals."""
    s = json.loads(json.dumps(script))
    s["theorems"]["_prover_gate_ref"] = s["theorems"][name]
    return s


DOUBLE_SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {"t1": {"goals": [X]}, "bad_statement": {"error": "type mismatch"}},
    "tactics": {
        X: {
            "rfl": {"goals": [], "axioms": []},
            "native_decide": {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]},
            "bad": {"error": "unknown identifier 'bad'"},
            "boom": {"crash": True},
            "slow": {"sleep": 30},
        }
    },
}


@pytest.mark.slow
def test_on_the_double_survives_crash_and_timeout_and_gates(tmp_path: Path) -> None:
    config = double_config(tmp_path, with_gate_ref(DOUBLE_SCRIPT, "t1"))
    gen = ScriptedGenerator({X: [("native_decide", -0.1), ("boom", -0.2), ("slow", -0.3), ("bad", -0.4), ("rfl", -1)]})
    thm = Theorem("t1", "theorem t1 (x : Nat) : x = x := by")
    with Agent(config, generator=gen) as agent:
        att = agent.prove(thm)
        assert att.status == "proved", att.error
        assert att.proof == "theorem t1 (x : Nat) : x = x := by\n  rfl"
        kinds = [e.kind for e in att.graph.edges]
        assert kinds == ["unsound", "crash", "timeout", "error", "proved"]
        assert "Lean.ofReduceBool" in att.graph.meta["gate_rejections"][0]
        bad = agent.prove(Theorem("bad_statement", "theorem bad_statement : x := by"))
        assert bad.status == "error" and "type mismatch" in bad.error
