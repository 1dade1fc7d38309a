"""The sketch mode's prompts against the formats DSP+ published (microsoft/DSP-Plus ``dsp/draft.py``,
``dsp/sketch.py``, read for their structure; the wording here is ours): what each prompt shows, in which order,
and what it never shows (the human proof)."""

from __future__ import annotations

import re

from prover.lean.types import Theorem
from prover.models.prompts import DRAFT_TEMPLATE, render_draft, render_sketch, strip_thinking

HEADER = "import Mathlib\nopen BigOperators Real Nat Topology Rat"
STMT = "theorem amc12a_2015_p10 (x y : ℤ) (h₀ : 0 < y) (h₁ : y < x) (h₂ : x + y + x * y = 80) : x = 26 := by"
INFORMAL = "Integers $x$ and $y$ with $x>y>0$ satisfy $x+y+xy=80$. What is $x$? Show that it is 26."
PROOF = "Use SFFT to get $(x+1)(y+1)=81$."


def thm(informal: bool = True) -> Theorem:
    meta = {"informal_statement": INFORMAL, "informal_proof": PROOF} if informal else {"informal_proof": PROOF}
    return Theorem("amc12a_2015_p10", STMT, HEADER, meta=meta)


def test_draft_prompt_has_dsp_plus_shape() -> None:
    p = render_draft(thm(informal=False))
    # DSP+: the formal statement under its label first, then the request for one-equation steps, then an
    # example in the `### Step k:` format with display math
    assert p.startswith(f"formal_statement:\n{STMT}\n")
    assert "**one** equation" in p and "detailed" in p
    steps = re.findall(r"^### Step (\d+):\n\\\[ .+ \\\]$", p, flags=re.M)
    assert steps[0] == "1" and len(steps) >= 2
    assert PROOF not in p and "informal_proof" not in p


def test_draft_prompt_shows_the_informal_statement_never_the_proof() -> None:
    p = render_draft(thm())
    assert p.startswith(f"informal_statement:\n{INFORMAL}\n\nformal_statement:\n{STMT}\n")
    assert PROOF not in p
    assert PROOF not in render_draft(thm(), informal=False) and INFORMAL not in render_draft(thm(), informal=False)
    custom = render_draft(thm(), "Solve {name}: {informal_statement}\n{formal_statement}")
    assert custom == f"Solve amc12a_2015_p10: {INFORMAL}\n{STMT}"
    assert "{informal_proof}" not in DRAFT_TEMPLATE


def test_sketch_prompt_has_dsp_plus_shape() -> None:
    draft = "### Step 1:\n\\[ (x+1)(y+1) = 81 \\]"
    p = render_sketch(thm(), f"  {draft}\n")
    # DSP+: the draft as the informal proof first; the step kinds; placeholders naming hypotheses; the type
    # notes on `/`, `-` and `n!`; one worked example in a lean4 block; the header and statement last, in a
    # lean4 block left open for the model to continue
    assert p.startswith(f"informal_proof:\n{draft}\n\n")
    for kind in ("have", "let", "suffices", "induction", "match"):
        assert f"`{kind}`" in p
    assert "prove_with [h₁, step3, ...]" in p
    assert "(1 : ℝ) / 2" in p and "(1 : ℕ) - 2" in p and "(n)!" in p
    example = p[p.index("```lean4\n") : p.index("```\n", p.index("```lean4\n") + 1)]
    assert "example" in example and re.search(r"^ {6}prove_with \[h₁, h₂\]$", example, flags=re.M)
    assert p.endswith(f"formal_statement:\n```lean4\n{HEADER}\n{STMT}\n")
    assert PROOF not in p and INFORMAL not in p


def test_custom_placeholder_name_goes_into_the_prompt() -> None:
    p = render_sketch(thm(), "### Step 1:\n\\[ x = 26 \\]", placeholder="use_facts")
    assert "use_facts [h₁, step3, ...]" in p and "prove_with" not in p


def test_thinking_is_removed_from_drafts() -> None:
    assert strip_thinking("<think>long\nreasoning</think>\n\n### Step 1:\n\\[ x = 1 \\]") == (
        "### Step 1:\n\\[ x = 1 \\]", None)
    assert strip_thinking("<think>a</think>b<think>c</think> final ") == ("final", None)
    assert strip_thinking("plain answer\n") == ("plain answer", None)
    text, problem = strip_thinking("<think>cut by the token limit")
    assert text == "" and "inside <think>" in problem
