"""The repair loop against real Lean (marked ``lean``: they skip here and run as they are for a user with
the toolchain and the built REPL, ``scripts/setup_lean.sh``). They check the Lean behaviours the loop relies
on that no recorded transcript shows: ``set_option … in trace_state`` in tactic mode, sub-lemma statements
from goals printed with APOLLO's options, ``rename_i`` + ``exact`` at a sorry, automation on sorry states,
and the whole loop on a broken proof."""

from __future__ import annotations

import pytest

from prover.config import load_config
from prover.lean.types import ProofFinished, TacticState, Theorem
from repair import reassemble as RA
from repair.automation import goal_with_options
from repair.config import RepairConfig
from repair.loop import Budget, RepairLoop
from repair.subgoals import sub_lemma

pytestmark = pytest.mark.lean

HEADER = "import Mathlib\n"


@pytest.fixture(scope="module")
def env():
    from prover.lean.repl_env import ReplEnv

    with ReplEnv(load_config().lean) as e:
        yield e


def test_repair_a_broken_proof_with_automation(env) -> None:
    thm = Theorem("t", "theorem t (x : ℕ) (h : x = 2) : x + x = 4 := by", HEADER)
    env.start(thm)
    text = (
        "theorem t (x : ℕ) (h : x = 2) : x + x = 4 := by\n  have h2 : x * 1 = x := by\n    ring_nf\n"
        "    simp_all [nope]\n  nlinarith [h, foo]\n"
    )
    res = RepairLoop(env, RepairConfig(), Budget(env, 200, 600)).repair(thm, text)
    assert res.proved, res.reason
    assert env.check(thm, res.text).sound


def test_subgoal_statement_elaborates_and_closes_its_sorry(env) -> None:
    thm = Theorem("u", "theorem u (n : ℕ) (f : ℕ → ℕ) (hf : ∀ k, f k = 2 * k) : f n ≥ n := by", HEADER)
    env.start(thm)
    text = thm.statement + "\n  have key : ∀ k : ℕ, (k : ℤ) ≤ 2 * k := by\n    sorry\n  sorry\n"
    el = env.elaborate(thm, text)
    assert not el.errors and len(el.sorries) == 2
    state = el.states[0]
    assert isinstance(state, TacticState)
    goal = goal_with_options(env, state, RepairConfig().pp_options)
    assert "⊢" in goal and goal != state.pp  # the options changed the printing (type ascriptions)
    lem = sub_lemma(goal, "u_sub1")
    offs = RA.sorry_offsets(text)
    trial = RA.add_lemmas(RA.splice(text, [RA.Fill(offs[0], lem.call)]), "u", [lem.sorried()])
    el2 = env.elaborate(thm, trial)
    assert not el2.errors, [m.data for m in el2.errors]


def test_trace_state_and_automation_on_a_sorry_state(env) -> None:
    thm = Theorem("w", "theorem w (a b : ℝ) (ha : 0 < a) (hb : 0 < b) : 0 < a * b + a := by", HEADER)
    env.start(thm)
    el = env.elaborate(thm, thm.statement + "\n  sorry\n")
    (state,) = el.states
    out = env.run_tactic(state, RepairConfig().automation[-1])
    assert isinstance(out, ProofFinished)
