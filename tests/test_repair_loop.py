"""The repair loop and the whole-proof modes end to end through the real `ReplEnv` and REPL transport against
the protocol double (scripted states: nothing here is proved by Lean).

How the scripted answers relate to Lean: a failing tactic is an error at its line and a proof that stops
early is ``unsolved goals`` at ``by`` (as in the recorded transcripts, e.g. ``incomplete.expected.out``); a
``sorry`` line gives a sorry with a proof state and the goal it stands for (``tactic_mode_sorry``); a tactic
on such a proof state answers like any tactic (``proof_step``); ``#print axioms`` lists ``sorryAx`` for a
proof with a sorry (Lean's wording, ``SCRIPT.md``). The canned answer of `test_recorded_lean_errors_drive_the_loop`
is Lean's own recorded answer for that text (``pairs.jsonl`` row 112).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fakes import ScriptedGenerator

from prover.agent import Agent
from prover.config import load_config
from prover.lean.types import Theorem
from prover.models.base import ProofCandidate
from repair.config import APOLLO_CHAIN, RepairConfig
from repair.loop import Budget, RepairLoop

DOUBLE = Path(__file__).resolve().parents[1] / "tests" / "double" / "repl_double.py"

G = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
STMT = "theorem t (x : ℕ) (h : x = 2) : x + x = 4 := by"
THM = Theorem("t", STMT)
LEMMA = "theorem t_sub1 (x : ℕ) (h : x = 2) :\n    x + x = 4 := by"


class ScriptedProofs:
    """A `ProofGenerator` answering from a table: theorem name → candidate texts (cycled to ``n``)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def generate(self, theorems, n, *, feedback=None, seed=None):
        out = []
        for t in theorems:
            self.calls.append((t.name, n))
            texts = self.table.get(t.name, [])
            k = n if texts else 0
            out.append([ProofCandidate(texts[i % len(texts)], raw="", completion_tokens=10) for i in range(k)])
        return out


def script(tactics: dict[str, dict], theorems: dict | None = None, commands: dict | None = None) -> dict:
    s = {"lean_version": "4.24.0-double", "theorems": {"t": {"goals": [G]}, **(theorems or {})}}
    s["tactics"] = {G: tactics}
    if commands:
        s["commands"] = commands
    return s


def make_env(tmp_path: Path, scr: dict):
    from prover.lean.repl_env import ReplEnv

    p = tmp_path / "script.json"
    p.write_text(json.dumps(scr))
    cfg = load_config(
        overrides={
            "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(p)],
            "lean.project_dir": str(tmp_path),
            "lean.timeout": 5,
            "lean.memory_limit_mb": None,
        }
    )
    return cfg, ReplEnv(cfg.lean)


BROKEN = f"{STMT}\n  nlinarith [h]\n"


def test_automation_closes_a_broken_proof(tmp_path: Path) -> None:
    cfg, env = make_env(tmp_path, script({"nlinarith [h]": {"error": "linarith failed to find a contradiction"},
                                          APOLLO_CHAIN: {"goals": []}}))
    with env:
        env.start(THM)
        loop = RepairLoop(env, RepairConfig(), Budget(env, 200, 60))
        res = loop.repair(THM, BROKEN)
    assert res.proved and res.stage == "automation", res.reason
    assert res.text == f"{STMT}\n  {APOLLO_CHAIN}\n"
    assert res.closed["automation"] == 1 and res.rounds == 1


def test_sublemma_from_the_model_and_lemma_by_name(tmp_path: Path) -> None:
    scr = script(
        {"nlinarith [h]": {"error": "linarith failed"}, "exact t_sub1 x h": {"goals": []}, "omega": {"goals": []}},
        theorems={"t_sub1": {"goals": [G]}},
    )
    cfg, env = make_env(tmp_path, scr)
    gen = ScriptedProofs({"t_sub1": [LEMMA + "\n  nlinarith [h]", LEMMA + "\n  omega"]})
    with env:
        env.start(THM)
        loop = RepairLoop(env, RepairConfig(sublemma_samples=2), Budget(env, 300, 60), proof_generator=gen)
        res = loop.repair(THM, BROKEN)
    assert res.proved and res.stage == "sublemma", res.reason
    assert res.text.startswith(LEMMA + "\n  omega\n\n" + STMT)
    assert res.text.rstrip().endswith("exact t_sub1 x h")
    assert gen.calls == [("t_sub1", 2)]


def test_recursion_stops_at_max_depth_and_budget(tmp_path: Path) -> None:
    scr = script({"nlinarith [h]": {"error": "linarith failed"}, "exact t_sub1 x h": {"goals": []},
                  "exact t_sub1_sub1 x h": {"goals": []}},
                 theorems={"t_sub1": {"goals": [G]}, "t_sub1_sub1": {"goals": [G]}})
    cfg, env = make_env(tmp_path, scr)
    bad = {
        "t_sub1": [LEMMA + "\n  nlinarith [h]"],
        "t_sub1_sub1": ["theorem t_sub1_sub1 (x : ℕ) (h : x = 2) :\n    x + x = 4 := by\n  nlinarith [h]"],
    }
    gen = ScriptedProofs(bad)
    with env:
        env.start(THM)
        loop = RepairLoop(env, RepairConfig(sublemma_samples=1, max_depth=1, recurse_failed=1), Budget(env, 500, 60),
                          proof_generator=gen)
        res = loop.repair(THM, BROKEN)
    assert not res.proved
    # depth 0 asks for t_sub1; its failed sample is repaired at depth 1, which asks for t_sub1_sub1 and stops
    assert [n for n, _ in gen.calls] == ["t_sub1", "t_sub1_sub1"]
    assert len(res.remaining) == 1 and res.remaining[0].goal == G
    # a Lean-call budget stops the loop before it gets there
    (tmp_path / "b").mkdir()
    cfg, env = make_env(tmp_path / "b", scr)
    gen2 = ScriptedProofs(bad)
    with env:
        env.start(THM)
        loop2 = RepairLoop(env, RepairConfig(sublemma_samples=1), Budget(env, 3, 60), proof_generator=gen2)
        res2 = loop2.repair(THM, BROKEN)
    assert not res2.proved and "budget" in (res2.reason or "")
    assert gen2.calls == []


def test_gate_rejects_an_unsound_reassembly(tmp_path: Path) -> None:
    # the only closing tactic uses an axiom the gate refuses (like native_decide's Lean.ofReduceBool)
    scr = script({"nlinarith [h]": {"error": "linarith failed"},
                  APOLLO_CHAIN: {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]}})
    cfg, env = make_env(tmp_path, scr)
    with env:
        env.start(THM)
        res = RepairLoop(env, RepairConfig(), Budget(env, 200, 60)).repair(THM, BROKEN)
    assert not res.proved
    assert "gate" in res.reason and "Lean.ofReduceBool" in res.reason


def test_hybrid_sends_subgoals_to_the_step_prover(tmp_path: Path) -> None:
    from repair.modes import SearchSubgoalProver
    from search.config import SearchConfig

    scr = script({"nlinarith [h]": {"error": "linarith failed"}, "subst h": {"goals": ["x : ℕ\n⊢ 2 + 2 = 4"]}},
                 theorems={})
    scr["tactics"]["x : ℕ\n⊢ 2 + 2 = 4"] = {"norm_num": {"goals": []}}
    cfg, env = make_env(tmp_path, scr)
    gen = ScriptedGenerator({G: ["subst h"], "x : ℕ\n⊢ 2 + 2 = 4": ["norm_num"]})
    prover = SearchSubgoalProver(SearchConfig(), gen, RepairConfig(subgoal_expansions=5), tactic_timeout=5)
    with env:
        env.start(THM)
        loop = RepairLoop(env, RepairConfig(automation=[]), Budget(env, 200, 60), subgoal_prover=prover)
        res = loop.repair(THM, BROKEN)
    assert res.proved and res.stage == "search", res.reason
    assert res.text == f"{STMT}\n  subst h\n  norm_num\n"


def test_recorded_lean_errors_drive_the_loop(tmp_path: Path) -> None:
    """Lean's recorded answer to a real LLM proof (pairs.jsonl row 112: `rfl` fails) is the double's canned
    answer for that text; the loop sorrifies it and automation closes the sorry."""
    goal = "⊢ (∏ k ∈ Finset.range 6, 2 * k + 1) % 10 = 5"
    stmt = "theorem mathd_numbertheory_343 : (∏ k in Finset.range 6, 2 * k + 1) % 10 = 5 := by"
    text = f"{stmt}\n  rfl"
    recorded = [{"severity": "error", "pos": {"line": 2, "column": 2}, "endPos": {"line": 2, "column": 5},
                 "data": "tactic 'rfl' failed, the left-hand side\n  (∏ k ∈ Finset.range 6, 2 * k + 1) % 10\n"
                         "is not definitionally equal to the right-hand side\n  5\n" + goal}]
    scr = {
        "theorems": {"mathd_numbertheory_343": {"goals": [goal]}},
        "tactics": {goal: {"decide": {"goals": []}}},
        "commands": {text: {"messages": recorded}},
    }
    cfg, env = make_env(tmp_path, scr)
    thm = Theorem("mathd_numbertheory_343", stmt)
    with env:
        env.start(thm)
        res = RepairLoop(env, RepairConfig(automation=["decide"]), Budget(env, 100, 60)).repair(thm, text)
    assert res.proved and res.stage == "automation"
    assert res.text == f"{stmt}\n  decide\n"


@pytest.mark.parametrize("mode", ["whole", "repair"])
def test_modes_through_the_agent(tmp_path: Path, mode: str) -> None:
    scr = script({"nlinarith [h]": {"error": "linarith failed"}, APOLLO_CHAIN: {"goals": []}, "omega": {"goals": []}})
    cfg, env = make_env(tmp_path, scr)
    cfg = cfg.model_copy(update={"mode": mode})
    gen = ScriptedProofs({"t": [BROKEN]})
    with env, Agent(cfg, env=env, proof_generator=gen) as agent:
        att = agent.prove(THM, seed=3)
    assert att.mode == mode and att.samples == cfg.repair.samples
    if mode == "whole":
        assert att.status == "failed" and att.stats["failed_samples"] == cfg.repair.samples
    else:
        assert att.status == "proved" and att.stage == "automation" and att.verified_by == "repl"
        assert att.proof.endswith(APOLLO_CHAIN + "\n")
        assert att.stats["repaired"] == 1


def test_bad_input_is_one_line_in_the_record(tmp_path: Path) -> None:
    scr = script({})
    cfg, env = make_env(tmp_path, scr)
    cfg = cfg.model_copy(update={"mode": "repair"})
    gen = ScriptedProofs({})  # the model returns nothing usable
    with env, Agent(cfg, env=env, proof_generator=gen) as agent:
        att = agent.prove(THM)
        assert att.status == "failed" and att.samples == 0
        bad = Theorem("nope", "theorem nope : False := by")  # the double rejects an unknown statement
        att = agent.prove(bad)
    assert att.status == "error" and "\n" not in att.error


def test_infrastructure_failure_is_never_a_final_failed(tmp_path: Path) -> None:
    # the only sample crashes the REPL when Lean elaborates it: the attempt is an `error` (redone on resume)
    scr = script({"boom": {"crash": True}})
    cfg, env = make_env(tmp_path, scr)
    cfg = cfg.model_copy(update={"mode": "repair"})
    gen = ScriptedProofs({"t": [f"{STMT}\n  boom\n"]})
    with env, Agent(cfg, env=env, proof_generator=gen) as agent:
        att = agent.prove(THM)
    assert att.status == "error" and att.error.startswith("LeanCrashed") and "\n" not in att.error
    assert att.stats["infrastructure"] == {"LeanCrashed": cfg.repair.samples}


def test_a_crash_in_automation_makes_an_unproved_attempt_an_error(tmp_path: Path) -> None:
    # the only automation tactic kills the REPL (the env recovers) and nothing else closes the sorry: the sorry
    # was never really tried, so the attempt is an `error` redone on resume, not a final `failed`
    scr = script({"nlinarith [h]": {"error": "linarith failed"}, "boom": {"crash": True}})
    cfg, env = make_env(tmp_path, scr)
    cfg = cfg.model_copy(update={"mode": "repair", "repair": RepairConfig(automation=["boom"], samples=1)})
    with env, Agent(cfg, env=env, proof_generator=ScriptedProofs({"t": [BROKEN]})) as agent:
        att = agent.prove(THM)
    assert att.status == "error" and att.error.startswith("LeanCrashed"), (att.status, att.error)
    assert att.stats["infrastructure"]["LeanCrashed"] >= 1


def test_sorry_states_survive_a_crash(tmp_path: Path) -> None:
    # the first portfolio tactic kills the REPL; the env rebuilds the sorry's proof state by elaborating the
    # text again (ReplEnv.elaborate handles) and the second tactic closes it
    scr = script({"nlinarith [h]": {"error": "linarith failed"}, "boom": {"crash": True}, APOLLO_CHAIN: {"goals": []}})
    cfg, env = make_env(tmp_path, scr)
    with env:
        env.start(THM)
        res = RepairLoop(env, RepairConfig(automation=["boom", APOLLO_CHAIN]), Budget(env, 200, 60)).repair(THM, BROKEN)
    assert res.proved and res.stage == "automation", res.reason


def test_hybrid_mode_through_the_agent(tmp_path: Path) -> None:
    scr = script({"nlinarith [h]": {"error": "linarith failed"}, "subst h": {"goals": ["x : ℕ\n⊢ 2 + 2 = 4"]}})
    scr["tactics"]["x : ℕ\n⊢ 2 + 2 = 4"] = {"norm_num": {"goals": []}}
    cfg, env = make_env(tmp_path, scr)
    cfg = cfg.model_copy(update={"mode": "hybrid", "repair": RepairConfig(automation=[], samples=1)})
    steps = ScriptedGenerator({G: ["subst h"], "x : ℕ\n⊢ 2 + 2 = 4": ["norm_num"]})
    with env, Agent(cfg, env=env, generator=steps, proof_generator=ScriptedProofs({"t": [BROKEN]})) as agent:
        att = agent.prove(THM, seed=1)
    assert att.status == "proved" and att.mode == "hybrid" and att.stage == "search"
    assert att.proof.endswith("  subst h\n  norm_num\n") and att.expansions >= 2
