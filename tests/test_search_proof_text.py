"""Proof text extraction: normalisation, multi-goal paths, multi-line tactics, round trip through a check."""

from __future__ import annotations

from fakes import ScriptedEnv, ScriptedGenerator, pp_of

from prover.lean.types import Theorem
from search import build_search
from search.config import SearchConfig
from search.proof_text import full_file, normalize_tactic, proof_body, proof_text


def test_normalize_tactic() -> None:
    assert normalize_tactic("  simp  ") == "simp"
    assert normalize_tactic("\n\n  rfl\n\n") == "rfl"
    assert normalize_tactic("   ") == ""
    assert normalize_tactic("have h : 1 = 1 := by\r\n  rfl\r\n") == "have h : 1 = 1 := by\n  rfl"
    # common indentation is removed, relative indentation kept
    assert normalize_tactic("    have h : p := by\n      simp\n    exact h") == "have h : p := by\n  simp\nexact h"
    assert normalize_tactic("calc a = b := by simp   \n  _ = c := rfl") == "calc a = b := by simp\n  _ = c := rfl"


def test_proof_text_indents_every_line_the_same() -> None:
    thm = Theorem("t", "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by", header="import Mathlib")
    tactics = ["constructor", "have h : p := by\n  exact hp", "exact h", "exact hq"]
    text = proof_text(thm, tactics)
    assert text == (
        "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n"
        "  constructor\n"
        "  have h : p := by\n"
        "    exact hp\n"
        "  exact h\n"
        "  exact hq"
    )
    assert full_file(thm, tactics).startswith("import Mathlib\n\ntheorem t")
    assert proof_body(["", "  rfl "]) == "rfl"


def test_statement_without_by_gets_by() -> None:
    thm = Theorem("p", "theorem p (G : Type*) [Group G] : True :=")
    assert proof_text(thm, ["trivial"]) == "theorem p (G : Type*) [Group G] : True := by\n  trivial"


# A two-goal theorem whose proof uses a multi-line tactic on the first goal; the REPL applies each tactic
# to the whole state, and the file replays the same way.
ROOT = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
MULTI = "have h : p := by\n  exact hp\nexact h"
SCRIPT = {
    "theorems": {"two": {"goals": [ROOT]}},
    "tactics": {
        ROOT: {"constructor": {"goals": [LEFT, RIGHT]}},
        pp_of([LEFT, RIGHT]): {MULTI: {"goals": [RIGHT]}, "exact hq": {"error": "type mismatch"}},
        RIGHT: {"exact hq": {"goals": []}},
    },
}


def test_found_multigoal_proof_passes_the_check() -> None:
    env = ScriptedEnv(SCRIPT)
    thm = Theorem("two", "theorem two (p q : Prop) (hp : p) (hq : q) : p ∧ q := by")
    gen = ScriptedGenerator(
        {
            ROOT: ["constructor"],
            pp_of([LEFT, RIGHT]): ["exact hq", "  " + MULTI.replace("\n", "\n  ")],
            RIGHT: ["exact hq"],
        }
    )
    res = build_search(SearchConfig()).search(env, env.start(thm), gen, theorem=thm)
    assert res.proved
    assert res.tactics == ["constructor", MULTI, "exact hq"]
    text = proof_text(thm, res.tactics)
    assert "  have h : p := by\n    exact hp\n  exact h\n  exact hq" in text
    assert env.check(thm, text).sound
    # the check is not vacuous: a wrongly indented proof is rejected
    assert not env.check(thm, text.replace("    exact hp", "      exact hp")).sound
