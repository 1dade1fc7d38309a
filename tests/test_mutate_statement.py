"""Statement construction and the prefilter on real Mathlib declarations (the shared Mathlib archive) and real
goal strings (LeanDojo traced states)."""

from __future__ import annotations

import json

import pytest
from mutate_fixtures import MATHLIB_ARCHIVE, mathlib_files

from data.mutate.candidates import file_candidates
from data.mutate.evaluate import rewrite_rules, statement_sites
from data.mutate.prefilter import PremiseIndex, context_names, head_of, premise_shape, term_keys
from data.mutate.statement import (
    goal_rewrite_proof,
    hyp_rewrite_proof,
    junk_reason,
    parse_signature,
    rename,
    same_up_to_printing,
    with_binder_replaced,
    with_conclusion,
)
from prover.lean.goals import parse_goals
from prover.lean.syntax import code_tokens, scan


@pytest.fixture(scope="module")
def mathlib(shared_dir):
    return mathlib_files(shared_dir / MATHLIB_ARCHIVE)


def _decl(text: str, name: str):
    src = scan(text)
    d = next(d for d in src.declarations if d.full_name == name)
    return src, d


def test_signature_of_a_real_theorem(mathlib, tmp_path):
    text = mathlib["Mathlib/Algebra/IsPrimePow.lean"]
    src, d = _decl(text, "Nat.disjoint_divisors_filter_isPrimePow")
    sig = parse_signature(text[d.keyword : d.statement_end])
    assert sig.name == "Nat.disjoint_divisors_filter_isPrimePow"
    binders = [(b.bracket, b.names, b.type) for b in sig.binders]
    assert binders == [("{", ("a", "b"), "ℕ"), ("(", ("hab",), "a.Coprime b")]
    assert sig.conclusion == "Disjoint (a.divisors.filter IsPrimePow) (b.divisors.filter IsPrimePow)"
    # Alchemy's example mutation of this theorem: `hab` rewritten with `Nat.coprime_comm`
    new = with_binder_replaced(sig, "hab", [("hab", "Nat.Coprime b a")])
    assert "{a b : ℕ} (hab : Nat.Coprime b a) :\n    Disjoint" in new
    swapped = "Disjoint (Finset.filter IsPrimePow b.divisors) (Finset.filter IsPrimePow a.divisors)"
    new_goal = with_conclusion(sig, swapped)
    assert new_goal.endswith(": " + swapped)
    renamed = rename(parse_signature(new_goal), "Nat.disjoint_divisors_filter_isPrimePow_mut_1")
    assert renamed.startswith("theorem Nat.disjoint_divisors_filter_isPrimePow_mut_1 {a b : ℕ}")

    # the proof that restores the original: its tactic block re-indented under a `have`
    proof = text[d.proof[0] : d.proof[1]]
    g = goal_rewrite_proof(sig.conclusion, proof, "Finset.disjoint_comm", False, "this")
    assert g.splitlines()[:3] == [
        "by",
        "  have this : Disjoint (a.divisors.filter IsPrimePow) (b.divisors.filter IsPrimePow) := by",
        "    simp only [Finset.disjoint_left, Finset.mem_filter, and_imp, Nat.mem_divisors, not_and]",
    ]
    assert g.splitlines()[-2:] == ["  rw [Finset.disjoint_comm] at this", "  exact this"]
    h = hyp_rewrite_proof("hab", "a.Coprime b", proof, "Nat.coprime_comm", True)
    assert h.splitlines()[1] == "  have hab : a.Coprime b := by rwa [← Nat.coprime_comm]"
    assert h.splitlines()[2] == "  " + g.splitlines()[2].strip()


def test_candidates_of_a_real_file(mathlib, tmp_path):
    (tmp_path / "Mathlib" / "Algebra").mkdir(parents=True)
    (tmp_path / "Mathlib" / "Algebra" / "IsPrimePow.lean").write_text(mathlib["Mathlib/Algebra/IsPrimePow.lean"])
    sf = file_candidates(tmp_path, "Mathlib/Algebra/IsPrimePow.lean")
    assert sf.header.rstrip().endswith("import Mathlib.NumberTheory.Divisors")
    names = [c.name for c in sf.candidates]
    assert "isPrimePow_def" in names and "Nat.disjoint_divisors_filter_isPrimePow" in names
    skipped = dict(sf.skipped)
    assert any(k.endswith(":IsPrimePow.two_le") and "pattern-matching" in v for k, v in skipped.items())
    c = next(c for c in sf.candidates if c.name == "isPrimePow_def")
    assert c.statement.startswith("theorem isPrimePow_def : IsPrimePow n ↔") and c.proof == "Iff.rfl"
    # a term proof becomes `exact …` after the `have` of a hypothesis rewrite, and a `have … :=` of a goal one
    term = next(c for c in sf.candidates if c.name == "isPrimePow_iff_pow_succ")
    g = goal_rewrite_proof("IsPrimePow n", term.proof, "foo", False, "this")
    assert g.splitlines()[1] == "  have this : IsPrimePow n :="
    assert g.splitlines()[2].startswith("    (isPrimePow_def _).trans")


def test_premise_shapes_of_real_lemmas(mathlib):
    def stmt(path, name):
        text = mathlib[path]
        _, d = _decl(text, name)
        return text[d.keyword : d.statement_end]

    two_mul = premise_shape(stmt("Mathlib/Algebra/Ring/Defs.lean", "two_mul"))
    assert two_mul.forward == {"2", "*"} and two_mul.reverse == {"+"} and two_mul.relation == "="
    sub_sq = premise_shape(stmt("Mathlib/Algebra/Ring/Commute.lean", "sub_sq"))
    assert sub_sq.forward == {"-", "^", "2"} and sub_sq.reverse == {"^", "2", "-", "*", "+"}
    lt = premise_shape(stmt("Mathlib/Algebra/Order/GroupWithZero/Unbundled.lean", "mul_lt_mul_left"))
    assert lt.relation == "↔" and lt.forward == {"*", "<"} and lt.hypotheses == 1  # (a0 : 0 < a)
    anti = premise_shape(stmt("Mathlib/Init/Order/Defs.lean", "le_antisymm_iff"))
    assert anti.forward == {"="} and anti.reverse == {"≤", "∧"} and anti.head == "↔"
    assert head_of(code_tokens("¬a = b")) == "¬" and head_of(code_tokens("¬(a ∧ b) ↔ c")) == "↔"
    assert head_of(code_tokens("a.Coprime b"), {"a", "b"}) == "Coprime"


@pytest.fixture(scope="module")
def index(mathlib):
    names, statements = [], []
    for text in mathlib.values():
        src = scan(text)
        for d in src.declarations:
            if d.is_theorem and d.full_name:
                names.append(d.full_name)
                statements.append(text[d.keyword : d.statement_end])
    return PremiseIndex.build(names, statements, alpha=2.0)


def _rules(index, goal_text: str, k: int = 32) -> list[tuple[str, bool]]:
    """The rules the prefilter sends for a goal, ranked as the pipeline ranks them (without a usage prior)."""
    g = parse_goals(goal_text)[0]
    keys = term_keys(g.target, g.names, guess_variables=False)
    context = keys.union(*(term_keys(h.type, g.names, guess_variables=False) for h in g.hypotheses))
    extra = index.namespace_score(context_names(context), 2.0)
    return [(index.names[m.premise], m.reverse) for m in index.rewrites(keys, k, prior=extra)]


def test_prefilter_on_real_goal_states(shared_dir, index):
    rows = [json.loads(x) for x in (shared_dir / "traced" / "traced_sample.jsonl").read_text().splitlines() if x]
    by_tactic = {r["tactic"]: r for r in rows}
    # ENNReal.le_rpow_one_div_iff: `rw [rpow_mul, ← one_div, …]` on this state
    r = by_tactic[next(t for t in by_tactic if t.startswith("rw [rpow_mul, ← one_div"))]
    got = _rules(index, r["state_before"], 64)
    assert ("ENNReal.rpow_mul", False) in got  # ranked up by its namespace: the goal is about ℝ≥0∞
    assert ("one_div", True) in _rules(index, r["state_before"], 400)  # `a⁻¹` matches: generic, ranked low
    assert len(index.names) > 800 and len(got) == 64
    assert not any(n.startswith("Ideal.") for n, _ in got)  # nothing about ideals for a goal about powers
    ennreal = sum(n.startswith("ENNReal.") for n, _ in got)
    assert ennreal > 3 * sum(n.startswith("NNReal.") for n, _ in got)  # ℝ≥0∞ lemmas before ℝ≥0 ones
    # CancelDenoms.cancel_factors_lt: `rw [mul_lt_mul_left, …]`
    r = by_tactic[next(t for t in by_tactic if t.startswith("rw [mul_lt_mul_left"))]
    assert ("mul_lt_mul_left", False) in _rules(index, r["state_before"], 32)
    # Ideal.span_singleton_eq_span_singleton: after `apply and_congr`, `rw [span_singleton_le_span_singleton]`
    r = by_tactic[next(t for t in by_tactic if "span_singleton_le_span_singleton" in t)]
    state = parse_goals(r["state_before"])[0]
    assert "span" in term_keys(state.target, state.names, guess_variables=False)
    assert ("Ideal.span_singleton_le_span_singleton", False) in _rules(index, r["state_before"], 8)


def test_gold_rules_of_real_proofs(mathlib):
    text = mathlib["Mathlib/Algebra/IsPrimePow.lean"]
    src, d = _decl(text, "IsPrimePow.dvd")
    rules = rewrite_rules(text[d.proof[0] : d.proof[1]])
    assert [(r.tactic, r.name, r.first_step) for r in rules] == [
        ("rw", "isPrimePow_nat_iff", True),
        ("simp only", "pow_zero", False),
        ("simp only", "ne_eq", False),
        ("simp only", "not_true_eq_false", False),
    ]
    _, d = _decl(text, "IsPrimePow.dvd")
    sites = statement_sites(text[d.keyword : d.statement_end])
    assert sites[0] == {"IsPrimePow"} and {"∣"} in sites and {"≠", "1"} in sites


def test_junk_and_sameness():
    assert junk_reason("a + b✝ = c") and junk_reason("f ⋯ = 0") and junk_reason("?m.12 ≤ x")
    assert junk_reason("Disjoint (Finset.filter IsPrimePow b.divisors) s") is None
    assert same_up_to_printing("(↑n : ℤ) + 1 = x", "↑n + 1 = x") is False  # the type ascription is kept
    assert same_up_to_printing("↑(a + b) = c", "(a + b) = c")
