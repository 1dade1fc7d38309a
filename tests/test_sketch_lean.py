"""The sketch mode on real Lean (the REPL built in lean_project/, Mathlib): recorded draft and sketch answers are
replayed (`prover.models.record`), so no model runs, but masking, ``clear``, automation and the gate are Lean's.

Marked ``lean``: conftest.py skips them with a reason when ``lake`` or the built project is missing (as here:
they have not been run on this machine).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.agent import Agent
from prover.config import load_config
from prover.lean.types import ProofFinished, Theorem
from prover.models.prompts import render_draft, render_sketch
from prover.models.record import record_line
from repair.sketch_config import DSP_TACTICS, aesop_call

pytestmark = pytest.mark.lean

HEADER = "import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat Topology Rat"
STMT = "theorem sketch_lean_t (x y : ℝ) (h₀ : x + y = 10) (h₁ : x - y = 2) : x = 6 := by"
THM = Theorem("sketch_lean_t", STMT, HEADER, meta={"informal_statement": "If x+y=10 and x-y=2 then x=6."})
DRAFT = "### Step 1:\n\\[ 2x = 12 \\]\n### Step 2:\n\\[ x = 6 \\]"
# `exact h₀` fails (type mismatch): masking turns it and the rest of its block into `sorry`
SKETCH = f"""```lean4
{HEADER}

{STMT}
  have h₂ : 2 * x = 12 := by
    prove_with [h₀, h₁]
  have h₃ : x = 6 := by
    exact h₀
    prove_with [h₂]
  exact h₃
```"""


def _config(tmp_path: Path, sketch: str, **extra):
    rec = tmp_path / "models.jsonl"
    d = [{"role": "user", "content": render_draft(THM)}]
    s = [{"role": "user", "content": render_sketch(THM, DRAFT)}]
    rec.write_text(record_line("Qwen/QwQ-32B", d, [DRAFT], n=1, seed=0)
                   + record_line("deepseek-ai/DeepSeek-V3-0324", s, [sketch], n=1, seed=0))
    return load_config(overrides={
        "mode": "sketch",
        "lean.timeout": 120,
        "lean.header_timeout": 900,
        "sketch.draft_model.replay_path": str(rec),
        "sketch.sketch_model.replay_path": str(rec),
        "sketch.search": False,  # no step model here: automation only
        **extra,
    })


def test_sketch_mode_proves_with_real_lean(tmp_path: Path) -> None:
    cfg = _config(tmp_path, SKETCH)
    with Agent(cfg) as agent:
        att = agent.prove(THM, seed=0)
    assert att.status == "proved", (att.error, att.stats)
    assert "clear * - h₀ h₁" in att.proof and "exact h₀" not in att.proof and "sorry" not in att.proof
    st = att.stats
    assert st["masked_placeholders"] == 1 and st["mask_rounds"] >= 1
    assert sum(st["closed"].values()) == 2 and att.stage == "automation"


def test_altered_statement_on_real_lean(tmp_path: Path) -> None:
    cfg = _config(tmp_path, SKETCH.replace(": x = 6 := by", ": x = 7 := by", 1))
    with Agent(cfg) as agent:
        att = agent.prove(THM, seed=0)
    assert att.status == "failed" and att.stats["altered"] == 1 and "x = 7" in att.stats["altered_statement"]


def test_dsp_aesop_call_and_clear_except_elaborate(tmp_path: Path) -> None:
    """The portfolio's Aesop calls (unsafe rules given inline in an `add` clause, DSP+'s options) and Mathlib's
    `clear * -` are accepted by this Lean and Mathlib."""
    from prover.lean.repl_env import ReplEnv

    t = Theorem("aesop_t", "theorem aesop_t (x y : ℝ) (h : 0 < x) (hy : y = 1) : 0 < x ^ 2 + x := by", HEADER)
    cfg = load_config(overrides={"lean.timeout": 120, "lean.header_timeout": 900})
    with ReplEnv(cfg.lean) as env:
        root = env.start(t)
        for builtin in (False, True):
            out = env.run_tactic(root, aesop_call(DSP_TACTICS, 64, builtin), 120)
            assert isinstance(out, ProofFinished), out
        cleared = env.run_tactic(root, "clear * - h", 60)
        assert "hy" not in cleared.pp and "h : 0 < x" in cleared.pp
