"""What the protocols promise and the callers now rely on without probing (`LeanEnv.lean_calls` / `reset`,
`close` on every model / retriever protocol)."""

from __future__ import annotations

from fakes import ScriptedEnv, ScriptedGenerator, theorem

from prover.lean.env import LeanEnv
from prover.models.automation import AutomationGenerator, CombinedGenerator
from prover.models.base import TacticGenerator
from repair.loop import Budget

X = "x : Nat\n⊢ x = x"
SCRIPT = {"theorems": {"t1": {"goals": [X]}}, "tactics": {X: {"rfl": {"goals": []}}}}


def test_budget_charges_the_env_lean_calls_from_its_start() -> None:
    env = ScriptedEnv(SCRIPT)
    state = env.start(theorem("t1"))  # before the budget: not charged
    budget = Budget(env, max_lean_calls=2)
    assert isinstance(env, LeanEnv) and budget.lean_calls == 0 and budget.exhausted() is None
    env.run_tactic(state, "rfl")
    env.run_tactic(state, "nope")
    assert budget.lean_calls == 2 and budget.exhausted() == "lean_calls"


def test_combined_generator_closes_its_model() -> None:
    model = ScriptedGenerator({X: ["rfl"]})
    gen = CombinedGenerator(model, AutomationGenerator(["simp"]))
    assert isinstance(gen, TacticGenerator) and isinstance(gen.automation, TacticGenerator)
    gen.close()
    assert model.closed
