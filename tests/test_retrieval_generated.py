"""Names the corpus gains besides declared ones: @[to_additive] (Mathlib's name translation and explicit
names), structure fields and parent projections, constructors, export aliases, alias statements.

The expected additive names are Mathlib's own (the declarations exist under those names in Mathlib of
2024-06: ``Finset.sum_congr``, ``add_zero``, ``add_comm``, ``sub_add_cancel``, ``add_nonneg`` (explicit),
``le_add_of_nonneg_left``, ``AddMonoid.nsmul``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_retrieval_trees import write_tree

from retrieval.corpus import Corpus
from retrieval.generated import (
    additive_name,
    additive_statement,
    constructors,
    export_names,
    split_case,
    structure_members,
    to_additive_target,
)


@pytest.mark.parametrize(
    ("mul", "add"),
    [
        ("Finset.prod_congr", "Finset.sum_congr"),
        ("mul_one", "add_zero"),
        ("mul_comm", "add_comm"),
        ("div_mul_cancel", "sub_add_cancel"),
        ("le_mul_of_one_le_left", "le_add_of_nonneg_left"),
        ("mul_le_mul_left'", "add_le_add_left'"),
        ("isSquare_iff", "even_iff"),
        ("prod_pow", "sum_nsmul"),
    ],
)
def test_additive_names_follow_mathlibs_translation(mul: str, add: str) -> None:
    assert additive_name(mul) == add


def test_namespaces_explicit_names_and_word_splitting() -> None:
    assert additive_name("Monoid.npow", translations={"Monoid": "AddMonoid"}) == "AddMonoid.nsmul"
    assert additive_name("Finset.prod_foo", "sum_bar") == "Finset.sum_bar"  # replaces the last component
    assert additive_name("A.B.mul_x", "C.add_y") == "A.C.add_y"  # replaces as many as it has
    assert additive_name("one_le_mul", "_root_.add_nonneg") == "add_nonneg"
    assert split_case("InvHMulLEConjugate₂SMul_ne_top") == [
        "Inv", "HMul", "LE", "Conjugate₂", "SMul", "_", "ne", "_", "top"]
    assert additive_statement("∀ a b : M, a * b = b * a ∧ a * 1 = a") == "∀ a b : M, a + b = b + a ∧ a + 0 = a"


def test_to_additive_attribute_texts() -> None:
    assert to_additive_target("to_additive") == (True, None)
    assert to_additive_target('to_additive (attr := simp) sum_foo "doc"') == (True, "sum_foo")
    assert to_additive_target('to_additive "only a doc"') == (True, None)
    assert to_additive_target("to_additive (attr := simp, norm_cast)") == (True, None)
    assert to_additive_target("to_additive existing") == (False, None)  # the additive one is written by hand
    assert to_additive_target("simp") == (False, None)


def test_structure_fields_parents_constructors_and_export_text() -> None:
    fields, parents, ctor = structure_members(
        "class MulZeroClass (M₀ : Type u) extends Mul M₀, Zero M₀",
        "\n  zero_mul : ∀ a : M₀, 0 * a = 0\n  mul_zero : ∀ a : M₀,\n    a * 0 = 0\n  mk' ::",
    )
    assert fields == [("zero_mul", "∀ a : M₀, 0 * a = 0"), ("mul_zero", "∀ a : M₀, a * 0 = 0")]
    assert parents == ["Mul", "Zero"] and ctor == "mk'"
    assert constructors("| zero : Nat\n  | succ (n : Nat) : Nat\nderiving Repr") == [
        ("zero", ": Nat"), ("succ", "(n : Nat) : Nat")]
    assert export_names(" MulZeroClass (zero_mul mul_zero)") == ("MulZeroClass", ["zero_mul", "mul_zero"])
    assert export_names(" private decNonneg from Init.Data.Int.Basic") == ("", [])


TREE = {
    "Alg/Defs.lean": """
        /-- doc -/
        @[to_additive]
        class Monoid (M : Type u) extends Mul M where
          protected npow : Nat → M → M
          one_mul' : ∀ a : M, a = a

        class MulZeroClass (M₀ : Type u) extends Mul M₀ where
          mul_zero : ∀ a : M₀, a * 0 = 0

        export MulZeroClass (mul_zero)

        inductive Color
          | red
          | green (n : Nat)

        @[to_additive (attr := simp)]
        theorem mul_one (a : Nat) : a * 1 = a := Nat.mul_one a

        @[simp, to_additive add_nonneg "the sum of nonnegatives"]
        theorem one_le_mul (a b : Nat) : 1 ≤ a * b := sorry

        theorem mul_comm (a b : Nat) : a * b = b * a := Nat.mul_comm a b

        attribute [to_additive] mul_comm

        namespace Finset
        @[to_additive]
        theorem prod_congr : True := trivial
        end Finset

        theorem orig (a : Nat) : a + 0 = a := rfl

        alias orig_alias := orig
        """,
    "Use.lean": """
        import Alg.Defs

        theorem uses_all (x : Nat) : True := by
          have := add_zero x
          have := add_comm x x
          have := add_nonneg x x
          have := mul_zero x
          have := Color.green 1
          have := Finset.sum_congr
          have := orig_alias x
          have := AddMonoid.nsmul
          exact MulZeroClass.toMul
        """,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = write_tree(tmp_path_factory.mktemp("gen") / "lib", TREE)
    return Corpus.from_lean_sources([root], progress=False, workers=1)


def test_the_corpus_holds_generated_names_with_statements(corpus: Corpus) -> None:
    kind = {p.full_name: p.kind for p in corpus.premises}
    assert kind["add_zero"] == kind["add_comm"] == kind["add_nonneg"] == "to_additive"
    assert kind["Finset.sum_congr"] == "to_additive" and kind["AddMonoid"] == "to_additive"
    assert kind["AddMonoid.nsmul"] == "to_additive"  # a field of the to_additive class, translated
    assert kind["Monoid.npow"] == kind["MulZeroClass.mul_zero"] == "field"
    assert kind["MulZeroClass.toMul"] == "projection" and kind["Monoid.mk"] == "constructor"
    assert kind["Color.red"] == kind["Color.green"] == "constructor"
    assert "one_mul'" not in kind and "nonneg_add" not in kind  # explicit name wins over the guess
    p = corpus.get("add_zero")
    assert p is not None and "a + 0 = a" in p.code and p.path == "Alg/Defs.lean"
    assert corpus.protected[corpus.name_index["Monoid.npow"][0]]
    # alias: the aliased declaration's statement, not just its name
    a = corpus.get("orig_alias")
    assert a is not None and "a + 0 = a" in a.code


def test_proofs_resolve_to_generated_names_and_exports(corpus: Corpus) -> None:
    i = corpus.name_index["uses_all"][0]
    used = {corpus.premises[j].full_name for j in corpus.uses(i)}
    assert used >= {"add_zero", "add_comm", "add_nonneg", "Color.green", "Finset.sum_congr", "orig_alias",
                    "AddMonoid.nsmul", "MulZeroClass.toMul"}
    assert "MulZeroClass.mul_zero" in used  # `mul_zero` through `export MulZeroClass (mul_zero)`


def test_generated_names_load_back(corpus: Corpus, tmp_path: Path) -> None:
    corpus.save(tmp_path / "c")
    back = Corpus.load(tmp_path / "c")
    assert back.get("add_comm") is not None and back.get("add_comm").kind == "to_additive"  # type: ignore[union-attr]
