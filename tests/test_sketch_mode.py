"""The sketch mode end to end through the real `ReplEnv`, the REPL transport and the protocol double, with the
draft and sketch models' answers replayed from a recording (`prover.models.record`): nothing here is proved by
Lean, and no model runs.

How the scripted Lean answers relate to Lean: each text the mode elaborates gets a canned command answer
(``commands``, SCRIPT.md). An error inside a tactic is reported at that tactic (recorded transcripts, e.g.
``incomplete.expected.out``; ``pairs.jsonl`` rows); after a failing tactic Lean runs nothing more of that tactic
block, so its later ``sorry`` is not reported (Lean's tactic framework aborts the block at the first exception;
each ``have … := by`` block is elaborated as its own term, whose error is recovered from, so the outer block
goes on); a ``sorry`` in a tactic block gives a ``sorries`` entry with its goal and proof state
(``tactic_mode_sorry`` transcript); ``clear * - h`` leaves the goal with only ``h`` and what the goal needs
(Mathlib ``Mathlib/Tactic/ClearExcept.lean``: every other hypothesis that can be cleared is); a tactic on a
sorry's proof state answers like any tactic (``proof_step``).
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
from prover.models.prompts import render_draft, render_sketch
from prover.models.record import record_line

DOUBLE = Path(__file__).resolve().parents[1] / "tests" / "double" / "repl_double.py"

STMT = "theorem t (x y : ℝ) (h₀ : x + y = 10) (h₁ : x - y = 2) : x = 6 := by"
THM = Theorem("t", STMT, meta={"informal_statement": "If $x+y=10$ and $x-y=2$, then $x=6$.",
                               "informal_proof": "Add the equations."})
G0 = "x y : ℝ\nh₀ : x + y = 10\nh₁ : x - y = 2\n⊢ x = 6"
DRAFT = "<think>add them</think>\n### Step 1:\n\\[ 2x = 12 \\]\n### Step 2:\n\\[ x = 6 \\]"
SKETCH = f"""Here is the sketch.
```lean4
import Mathlib

{STMT}
  -- Step 1
  have h₂ : 2 * x = 12 := by
    prove_with [h₀, h₁]
  -- Step 2
  have h₃ : x = 6 := by
    bad_tactic
    prove_with [h₂]
  exact h₃
```"""
# what Lean is given after the placeholders became `sorry` (imports dropped, the theorem's header is used)
V0 = f"""{STMT}
  -- Step 1
  have h₂ : 2 * x = 12 := by
    sorry
  -- Step 2
  have h₃ : x = 6 := by
    bad_tactic
    sorry
  exact h₃
"""
# masked: the failing nested tactic became `sorry`, the rest of its block went (DSP+'s rule)
V1 = V0.replace("    bad_tactic\n    sorry\n", "    sorry\n")
# the placeholders' hypothesis lists became `clear` lines
V2 = V1.replace("    sorry\n  -- Step 2", "    clear * - h₀ h₁\n    sorry\n  -- Step 2")
G_H2 = "x y : ℝ\nh₀ : x + y = 10\nh₁ : x - y = 2\n⊢ 2 * x = 12"
G_H3 = "x y : ℝ\nh₀ : x + y = 10\nh₁ : x - y = 2\nh₂ : 2 * x = 12\n⊢ x = 6"
G_H2c = G_H2  # clear keeps h₀ h₁ and x y (the goal needs them)


def pos(text: str, needle: str, nth: int = 0) -> dict:
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text[:i].count("\n") + 1
    return {"line": line, "column": i - (text.rfind("\n", 0, i) + 1)}


def sorry_at(text: str, nth: int, goal: str) -> dict:
    p = pos(text, "sorry", nth)
    return {"goal": goal, "pos": p, "endPos": {"line": p["line"], "column": p["column"] + 5}}


def make_run(tmp_path: Path, commands: dict, tactics: dict, answers: list[str], overrides: dict | None = None):
    from prover.lean.repl_env import ReplEnv

    scr = {"lean_version": "4.24.0-double", "theorems": {"t": {"goals": [G0]}}, "tactics": tactics,
           "commands": commands}
    p = tmp_path / "script.json"
    p.write_text(json.dumps(scr))
    rec = tmp_path / "models.jsonl"
    rec.write_text("".join(answers))
    cfg = load_config(
        overrides={
            "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(p)],
            "lean.project_dir": str(tmp_path),
            "lean.timeout": 5,
            "lean.memory_limit_mb": None,
            "mode": "sketch",
            "sketch.draft_model.replay_path": str(rec),
            "sketch.sketch_model.replay_path": str(rec),
            "sketch.automation": ["linarith"],
            **(overrides or {}),
        }
    )
    return cfg, ReplEnv(cfg.lean)


def recorded(theorem: Theorem, draft: str, sketches: list[str], seed: int = 0) -> list[str]:
    """Recording lines: the draft request's answer and the sketch request's answers (chat prompts, as the
    default `api = "chat"` sends them)."""
    d = [{"role": "user", "content": render_draft(theorem)}]
    body = draft.split("</think>")[-1].strip()
    s = [{"role": "user", "content": render_sketch(theorem, body)}]
    return [record_line("Qwen/QwQ-32B", d, [draft], n=1, seed=seed),
            record_line("deepseek-ai/DeepSeek-V3-0324", s, sketches, n=len(sketches), seed=seed)]


def test_sketch_masks_clears_and_fills_placeholders(tmp_path: Path) -> None:
    final = V2.replace("    clear * - h₀ h₁\n    sorry\n", "    clear * - h₀ h₁\n    linarith\n").replace(
        "  have h₃ : x = 6 := by\n    sorry\n", "  have h₃ : x = 6 := by\n    subst_vars\n    linarith\n"
    )
    commands = {
        V0: {"messages": [{"severity": "error", "pos": pos(V0, "bad_tactic"), "endPos": pos(V0, "bad_tactic"),
                           "data": "unknown tactic"}],
             "sorries": [sorry_at(V0, 0, G_H2)]},
        V1: {"sorries": [sorry_at(V1, 0, G_H2), sorry_at(V1, 1, G_H3)]},
        V2: {"sorries": [sorry_at(V2, 0, G_H2c), sorry_at(V2, 1, G_H3)]},
        final: {},
    }
    tactics = {G_H2c: {"linarith": {"goals": []}}, G_H3: {"subst_vars": {"goals": ["⊢ 6 = 6"]}},
               "⊢ 6 = 6": {"linarith": {"goals": []}}}
    cfg, env = make_run(tmp_path, commands, tactics, recorded(THM, DRAFT, [SKETCH]))
    gen = ScriptedGenerator({G_H3: ["subst_vars"], "⊢ 6 = 6": ["linarith"]})
    with env, Agent(cfg, env=env, generator=gen) as agent:
        att = agent.prove(THM, seed=0)
    assert att.status == "proved", json.dumps(att.stats, ensure_ascii=False)
    assert att.proof == final
    assert att.stage == "search" and att.mode == "sketch"
    st = att.stats
    assert st["closed"] == {"automation": 1, "search": 1}
    assert st["drafts"] == 1 and st["sketches"] == 1 and st["placeholders"] == 2
    assert st["mask_rounds"] == 1 and st["masked_placeholders"] == 1 and st["cleared"] == 1
    assert att.samples == 1


# A second sketch: two steps whose Lean answer has no error (only the placeholders' sorries)
SKETCH2 = f"""```lean4
{STMT}
  have h₂ : 2 * x = 12 := by
    prove_with [h₀, h₁]
  prove_with [h₂]
```"""
W0 = f"{STMT}\n  have h₂ : 2 * x = 12 := by\n    sorry\n  sorry\n"
W1 = f"{STMT}\n  have h₂ : 2 * x = 12 := by\n    clear * - h₀ h₁\n    sorry\n  clear * - h₂\n  sorry\n"
G_LAST = "x : ℝ\nh₂ : 2 * x = 12\n⊢ x = 6"  # after `clear * - h₂`: y, h₀, h₁ are gone (the goal needs only x)
ALTERED = SKETCH2.replace(": x = 6 := by", ": x = 7 := by")


def two_step_commands(final: str | None = None) -> dict:
    c = {W0: {"sorries": [sorry_at(W0, 0, G_H2), sorry_at(W0, 1, G_H3)]},
         W1: {"sorries": [sorry_at(W1, 0, G_H2), sorry_at(W1, 1, G_LAST)]}}
    if final is not None:
        c[final] = {}
    return c


def test_an_altered_statement_is_rejected_and_counted(tmp_path: Path) -> None:
    final = W1.replace("    sorry\n", "    linarith\n").replace("h₂\n  sorry\n", "h₂\n  linarith\n")
    tactics = {G_H2: {"linarith": {"goals": []}}, G_LAST: {"linarith": {"goals": []}}}
    cfg, env = make_run(tmp_path, two_step_commands(final), tactics, recorded(THM, DRAFT, [ALTERED, SKETCH2]),
                        {"sketch.sketches_per_draft": 2, "sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    assert att.status == "proved" and att.proof == final and att.stage == "automation", att.error
    st = att.stats
    assert st["altered"] == 1 and st["problems"] == {"altered": 1} and st["sketches"] == 2
    assert "x = 7" in st["altered_statement"] and st["altered_statement"].startswith("theorem t")
    assert st["closed"] == {"automation": 2} and att.samples == 2
    # the altered sketch never reached Lean: 3 texts elaborated (W0, W1), the gate's checks
    assert att.lean_calls < 12


def test_goals_left_open_after_clear_are_retried_with_their_whole_context(tmp_path: Path) -> None:
    retry = W1.replace("    sorry\n", "    linarith\n").replace("  clear * - h₂\n  sorry\n", "  sorry\n")
    final = retry.replace("  sorry\n", "  linarith\n")
    commands = two_step_commands(final)
    commands[retry] = {"sorries": [sorry_at(retry, 0, G_H3)]}
    # on the cleared goal nothing works; with h₀ h₁ back, linarith does
    tactics = {G_H2: {"linarith": {"goals": []}}, G_H3: {"linarith": {"goals": []}}}
    cfg, env = make_run(tmp_path, commands, tactics, recorded(THM, DRAFT, [SKETCH2]), {"sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    assert att.status == "proved", json.dumps(att.stats, ensure_ascii=False)
    assert att.proof == final
    assert att.stats["closed"] == {"automation": 2} and att.stats["closed_without_clear"] == 1
    # and without the retry the goal stays open, reported as Lean states it
    (tmp_path / "b").mkdir()
    cfg2, env2 = make_run(tmp_path / "b", commands, tactics, recorded(THM, DRAFT, [SKETCH2]),
                          {"sketch.search": False, "sketch.retry_without_clear": False})
    with env2, Agent(cfg2, env=env2) as agent:
        att2 = agent.prove(THM)
    assert att2.status == "failed" and att2.stats["remaining"] == [G_LAST]
    assert att2.stats["reason"] == "1 sub-goal(s) open"


def test_budgets_stop_the_attempt(tmp_path: Path) -> None:
    draft2 = "### Step 1:\n\\[ x = 6 \\]"
    d = [{"role": "user", "content": render_draft(THM)}]
    answers = [record_line("Qwen/QwQ-32B", d, [DRAFT, draft2], n=2, seed=0)]
    for body in ("### Step 1:\n\\[ 2x = 12 \\]\n### Step 2:\n\\[ x = 6 \\]", draft2):
        s = [{"role": "user", "content": render_sketch(THM, body)}]
        answers.append(record_line("deepseek-ai/DeepSeek-V3-0324", s, [SKETCH2], n=1, seed=0))
    # two drafts, one sketch each; one Lean call allowed: the first sketch's first elaboration spends it
    cfg, env = make_run(tmp_path, two_step_commands(), {}, answers,
                        {"sketch.drafts": 2, "sketch.max_lean_calls": 1, "sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    st = att.stats
    assert att.status == "failed" and st["drafts"] == 2 and st["sketches"] == 1 and st["stop"] == "lean_calls"
    assert st["problems"] == {"open": 1} and st["reason"] == "2 sub-goal(s) open (budget spent: lean_calls)"
    assert att.lean_calls == 1 and att.samples == 1
    # with enough Lean calls both drafts' sketches are tried (neither can be proved here)
    (tmp_path / "b").mkdir()
    cfg, env = make_run(tmp_path / "b", two_step_commands(), {}, answers, {"sketch.drafts": 2, "sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    assert att.status == "failed" and att.stats["sketches"] == 2 and att.samples == 2
    assert att.stats["problems"] == {"open": 2} and att.stats["subgoals"] == 4


def test_repeated_errors_switch_to_strict_masking(tmp_path: Path) -> None:
    nested = f"{STMT}\n  have h₂ : 2 * x = 12 := by\n    nlinarith [h₀]\n    sorry\n  sorry\n"
    sk = f"```lean4\n{STMT}\n  have h₂ : 2 * x = 12 := by\n    nlinarith [h₀]\n    prove_with [h₀, h₁]\n"
    sk += "  prove_with [h₂]\n```"
    m1 = f"{STMT}\n  have h₂ : 2 * x = 12 := by\n    sorry\n  sorry\n"
    strict = f"{STMT}\n  sorry\n"
    line = {"line": 3, "column": 4}
    # Lean's error at `nlinarith` (an error at the failing tactic, as recorded); then, hypothetically, the same
    # error line again after masking: scripted to exercise DSP+'s rule for repeated errors (strict mode), not
    # an answer recorded from Lean
    again = {"messages": [{"severity": "error", "pos": line, "endPos": line, "data": "linarith failed"}]}
    commands = {nested: again, m1: again, strict: {"sorries": [sorry_at(strict, 0, G0)]}}
    cfg, env = make_run(tmp_path, commands, {}, recorded(THM, DRAFT, [sk]), {"sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    st = att.stats
    assert st["mask_rounds"] == 2 and st["strict_rounds"] == 1, json.dumps(st, ensure_ascii=False)
    assert st["masked_placeholders"] == 2 and st["remaining"] == [G0]


def test_a_replay_that_does_not_cover_the_run_is_an_error(tmp_path: Path) -> None:
    other = Theorem("t", STMT)  # no informal statement: another draft prompt than the recorded one
    cfg, env = make_run(tmp_path, {}, {}, recorded(THM, DRAFT, [SKETCH2]), {"sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(other)
    assert att.status == "error" and att.error.startswith("ModelReplayMismatch: model request not in the recording")
    assert "\n" not in att.error


def test_hybrid_can_start_with_a_sketch(tmp_path: Path) -> None:
    from prover.models.base import ProofCandidate

    class Whole:
        def generate(self, theorems, n, *, feedback=None, seed=None):
            return [[ProofCandidate(f"{t.statement}\n  linarith", raw="", completion_tokens=5)] * n for t in theorems]

        def close(self) -> None:
            pass

    commands = {f"{STMT}\n  linarith": {}}
    cfg, env = make_run(tmp_path, commands, {}, recorded(THM, DRAFT, [ALTERED]),
                        {"mode": "hybrid", "sketch.first_in_hybrid": True, "repair.samples": 2})
    gen = ScriptedGenerator({})
    with env, Agent(cfg, env=env, generator=gen, proof_generator=Whole()) as agent:
        att = agent.prove(THM)
    assert att.status == "proved" and att.mode == "hybrid" and att.stage == "raw"
    assert att.stats["sketch"]["altered"] == 1 and att.samples == 1 + 2  # the sketch, then two whole proofs


def test_batch_and_prove_cli_in_sketch_mode(tmp_path: Path, capsys) -> None:
    from prover.batch.store import ResultStore
    from prover.cli import main

    final = W1.replace("    sorry\n", "    linarith\n").replace("h₂\n  sorry\n", "h₂\n  linarith\n")
    tactics = {G_H2: {"linarith": {"goals": []}}, G_LAST: {"linarith": {"goals": []}}}
    u = Theorem("u", STMT.replace("theorem t", "theorem u"))
    answers = recorded(THM, DRAFT, [SKETCH2]) + recorded(u, DRAFT, [ALTERED.replace("theorem t", "theorem u")])
    answers += recorded(Theorem("t", STMT), DRAFT, [SKETCH2])  # `prove --statement`: no informal statement
    cfg, _ = make_run(tmp_path, two_step_commands(final), tactics, answers)
    script = tmp_path / "script.json"
    scr = json.loads(script.read_text())
    scr["theorems"]["u"] = {"goals": [G0]}
    script.write_text(json.dumps(scr))
    bench = tmp_path / "bench.jsonl"
    rows = [{"name": "t", "formal_statement": STMT, "split": "test", "informal_statement": THM.meta[
        "informal_statement"], "informal_proof": "never shown"}, {"name": "u", "formal_statement": u.statement,
                                                                   "split": "test"}]
    bench.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    rec = str(tmp_path / "models.jsonl")
    sets = [f"lean.repl_command={json.dumps(cfg.lean.repl_command)}", f"lean.project_dir={tmp_path}",
            "lean.timeout=5", f"sketch.draft_model.replay_path={rec}", f"sketch.sketch_model.replay_path={rec}",
            "sketch.automation=[linarith]", "sketch.search=false"]
    args = [x for s in sets for x in ("--set", s)]
    run = tmp_path / "run"
    code = main(["batch", "--benchmark", str(bench), "--mode", "sketch", "--out", str(run), "--workers", "1",
                 "--no-progress", *args])
    assert code == 0
    with ResultStore.in_run_dir(run, readonly=True) as store:
        got = {r["theorem"]: r for r in store.attempts()}
    assert got["t"]["status"] == "proved" and got["t"]["mode"] == "sketch" and got["t"]["stage"] == "automation"
    assert got["u"]["status"] == "failed" and json.loads(got["u"]["stats"])["altered"] == 1
    report = json.loads((run / "report.json").read_text())
    assert report["stages"]["subgoals_closed"] == {"automation": 2}
    assert list(report["stages"]["altered"]) == ["u"] and "x = 7" in report["stages"]["altered"]["u"]["statement"]
    page = (run / "report.html").read_text()  # the same tables in the HTML report, the model's text escaped
    assert "Sub-goals closed by stage" in page and "Sketches that changed the statement" in page and "x = 7" in page
    printed = capsys.readouterr()
    assert "sketches that changed the statement: 1 theorem(s)" in printed.out + printed.err
    assert "sub-goals closed by stage: automation 2" in printed.out + printed.err
    code = main(["prove", "--statement", STMT, "--mode", "sketch", "--json", *args])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["proof"] == final and obj["mode"] == "sketch" and obj["stage"] == "automation"
    assert obj["mode_stats"]["closed"] == {"automation": 2} and obj["samples"] == 1


def test_sketch_models_share_one_local_engine_and_serialise_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import prover.models.whole as whole
    from repair.sketch import build_sketch_models
    from repair.sketch_config import SketchConfig

    built: list[str] = []

    class Backend:
        def complete(self, prompts, n, seeds=None):
            return [[] for _ in prompts]

        def close(self) -> None:
            built.append("closed")

    monkeypatch.setattr(whole, "build_completion_backend", lambda cfg, opts, **kw: built.append(cfg.model) or Backend())
    local = {"backend": "vllm", "model": "org/reasoner"}
    models = build_sketch_models(SketchConfig(draft_model=local, sketch_model={**local, "temperature": 0.2}))
    assert built == ["org/reasoner"] and models.draft is models.sketch and models._locks
    models.close()
    assert built.count("closed") == 1
    built.clear()
    served = build_sketch_models(SketchConfig())  # two HTTP endpoints: two clients, concurrent requests
    assert built == ["Qwen/QwQ-32B", "deepseek-ai/DeepSeek-V3-0324"] and not served._locks


def test_screen_reasons_are_classified() -> None:
    from prover.lean.gate import SoundnessGate
    from repair.sketch import classify_screen

    screen = SoundnessGate().screen
    body = "\n  sorry\n"
    assert classify_screen(screen(THM, STMT.replace("x = 6", "x = 7") + body)[0]) == "altered"
    assert classify_screen(screen(THM, STMT.replace("theorem t", "theorem t2") + body)[0]) == "missing"
    assert classify_screen(screen(THM, STMT + body + STMT + body)[0]) == "missing"
    assert classify_screen(screen(THM, "axiom cheat : False\n" + STMT + body)[0]) == "policy"
    assert screen(THM, STMT + body) == ()


def test_lean_timing_out_on_a_sketch_is_an_error_not_a_failure(tmp_path: Path) -> None:
    # no canned answer for this text: the double replays its tactic lines, and the first one sleeps past the
    # request timeout (SCRIPT.md `sleep`), as a real elaboration that runs too long
    tactics = {G0: {"have h₂ : 2 * x = 12 := by": {"sleep": 3}}}
    cfg, env = make_run(tmp_path, {}, tactics, recorded(THM, DRAFT, [SKETCH2]),
                        {"sketch.search": False, "lean.timeout": 1})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    assert att.status == "error" and att.error.startswith("LeanTimeout: Lean failed on sketches (LeanTimeout ×1)")
    assert att.stats["infrastructure"] == {"LeanTimeout": 1} and att.stats["sketches"] == 1


def test_hybrid_keeps_the_sketchs_infrastructure_error(tmp_path: Path) -> None:
    # the sketch times out in Lean (never judged), then the whole-proof model has nothing usable: the attempt
    # is an error to redo, not a final failure
    class NoProofs:
        def generate(self, theorems, n, *, feedback=None, seed=None):
            return [[] for _ in theorems]

        def close(self) -> None:
            pass

    tactics = {G0: {"have h₂ : 2 * x = 12 := by": {"sleep": 3}}}
    cfg, env = make_run(tmp_path, {}, tactics, recorded(THM, DRAFT, [SKETCH2]),
                        {"mode": "hybrid", "sketch.first_in_hybrid": True, "sketch.search": False,
                         "lean.timeout": 1, "repair.samples": 1})  # fmt: skip
    with env, Agent(cfg, env=env, generator=ScriptedGenerator({}), proof_generator=NoProofs()) as agent:
        att = agent.prove(THM)
    assert att.status == "error" and att.error.startswith("LeanTimeout"), (att.status, att.error)


def test_whole_proof_model_on_a_placeholders_sub_lemma(tmp_path: Path) -> None:
    from prover.models.base import ProofCandidate

    lemma = "theorem t_sub2 (x : ℝ) (h₂ : 2 * x = 12) :\n    x = 6 := by"
    proof = f"{lemma}\n  nlinarith [h₂]"

    class Whole:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def generate(self, theorems, n, *, feedback=None, seed=None):
            self.asked += [t.statement for t in theorems]
            return [[ProofCandidate(proof, raw="", completion_tokens=9)] * n for _ in theorems]

        def close(self) -> None:
            pass

    filled = W1.replace("    sorry\n", "    linarith\n")
    trial = f"{lemma} sorry\n\n" + filled.replace("h₂\n  sorry\n", "h₂\n  exact t_sub2 x h₂\n")
    final = f"{proof}\n\n" + filled.replace("h₂\n  sorry\n", "h₂\n  exact t_sub2 x h₂\n")
    commands = {**two_step_commands(final), trial: {}}
    # automation closes the first placeholder only; the second goes to the whole-proof model as a lemma, whose
    # statement is checked first (it elaborates, and its call closes the goal at the sorry: the trial text)
    tactics = {G_H2: {"linarith": {"goals": []}}, G_LAST: {"nlinarith [h₂]": {"goals": []}}}
    cfg, env = make_run(tmp_path, commands, tactics, recorded(THM, DRAFT, [SKETCH2]),
                        {"sketch.search": False, "sketch.sublemma_samples": 1, "sketch.retry_without_clear": False})
    scr = json.loads((tmp_path / "script.json").read_text())  # the double must know the lemma's name too
    scr["theorems"]["t_sub2"] = {"goals": [G_LAST]}
    (tmp_path / "script.json").write_text(json.dumps(scr))
    whole = Whole()
    with env, Agent(cfg, env=env, proof_generator=whole) as agent:
        att = agent.prove(THM)
    assert att.status == "proved", json.dumps(att.stats, ensure_ascii=False)
    assert att.proof == final and att.stage == "sublemma"
    assert att.stats["closed"] == {"automation": 1, "sublemma": 1}
    assert whole.asked == [lemma] and att.samples == 2  # the sketch and the lemma's sample


def test_a_sketch_that_needs_nothing_is_credited_to_the_sketch(tmp_path: Path) -> None:
    text = f"{STMT}\n  linarith\n"
    cfg, env = make_run(tmp_path, {text: {}}, {}, recorded(THM, DRAFT, [f"```lean4\n{text}```"]),
                        {"sketch.search": False})
    with env, Agent(cfg, env=env) as agent:
        att = agent.prove(THM)
    assert att.status == "proved" and att.stage == "sketch" and att.proof == text
    assert att.stats["closed"] == {} and "subgoals" not in att.stats
