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
            record_line("deepseek-ai/DeepSeek-V3-0324", s, sketches, n=1, seed=seed)]


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


if __name__ == "__main__":
    pytest.main([__file__, "-q"])
