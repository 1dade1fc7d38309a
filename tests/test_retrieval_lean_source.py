"""The Lean declaration scanner and name resolution on small source trees written here."""

from __future__ import annotations

import textwrap

import numpy as np
from test_retrieval_trees import TREE, build_tree_corpus

from retrieval.lean_source import mask_source, parse_lean_source, referenced_identifiers, statement_without_name


def _decls(src: str) -> dict[str, object]:
    return {d.full_name: d for d in parse_lean_source(textwrap.dedent(src), "M", "M.lean").declarations}


def test_comments_and_strings_are_masked_with_positions_kept() -> None:
    src = 'def a := "-- not a comment /-"\n/- outer /- nested -/ still comment -/ theorem b : True := trivial\n-- x\n'
    masked, uncommented = mask_source(src)
    assert len(masked) == len(src) == len(uncommented)
    assert masked.count("\n") == src.count("\n")
    assert "nested" not in masked and "still" not in masked
    assert "theorem b" in masked
    assert '"-- not a comment /-"' in uncommented  # string kept in the uncommented text
    assert "not a comment" not in masked  # but blanked for the structural scan
    ds = _decls(src)
    assert set(ds) == {"a", "b"}


def test_namespaces_sections_modifiers_and_kinds() -> None:
    ds = _decls(
        """
        import Foo.Bar
        /-! # Module doc with theorem fake : False -/
        namespace Alg
        /-- doc string: theorem also_fake : True -/
        @[simp, norm_cast]
        theorem one : 1 = 1 := rfl

        section Inner
        variable {α : Type}
        protected lemma two (h : (x : Nat) → x = x := fun _ => rfl) :
            2 = 2 := by
          rfl
        private def helper : Nat := 3
        end Inner

        namespace Sub.Deep
        noncomputable abbrev deep : Nat := 0
        end Sub.Deep
        theorem _root_.rootThm : True := trivial
        instance instNat : Inhabited Nat := ⟨0⟩
        instance : Inhabited Bool := ⟨true⟩
        instance (priority := 100) prioInst : Inhabited Unit := ⟨()⟩
        structure Point where
          x : Nat
        class Magma (α : Type) extends Mul α where
          foo : α
        inductive Color | red | green
        end Alg
        theorem top : True := trivial
        """
    )
    assert set(ds) == {
        "Alg.one", "Alg.two", "Alg.helper", "Alg.Sub.Deep.deep", "rootThm", "Alg.instNat", "Alg.prioInst",
        "Alg.Point", "Alg.Magma", "Alg.Color", "top",
    }
    assert ds["Alg.two"].protected and not ds["Alg.two"].private
    assert ds["Alg.helper"].private
    assert ds["Alg.two"].tactic_proof and not ds["Alg.one"].tactic_proof
    # the optional argument's `:=` inside parentheses does not end the statement
    assert ds["Alg.two"].code == "protected lemma two (h : (x : Nat) → x = x := fun _ => rfl) : 2 = 2"
    assert ds["Alg.one"].code == "theorem one : 1 = 1"  # attributes and doc strings are not part of it
    assert ds["Alg.Point"].kind == "structure" and ds["Alg.Point"].code == "structure Point"
    assert ds["Alg.Magma"].code == "class Magma (α : Type) extends Mul α"
    assert ds["Alg.Color"].kind == "inductive" and ds["Alg.Color"].code == "inductive Color"
    assert ds["Alg.Sub.Deep.deep"].kind == "abbrev"
    assert ds["Alg.one"].line == 7  # 1-based, the keyword's line (dedented source starts with a blank line)


def test_statement_ends_and_absolute_values() -> None:
    ds = _decls(
        """
        theorem abs_thing (a b : Int) :
            |a| ≤ |b| ↔ a * a ≤ b * b := by
          sorry
        def fact : Nat → Nat
          | 0 => 1
          | n + 1 => (n + 1) * fact n
        def withWhere : Nat := aux 1
        where aux (n : Nat) : Nat := n
        """
    )
    assert ds["abs_thing"].code == "theorem abs_thing (a b : Int) : |a| ≤ |b| ↔ a * a ≤ b * b"
    assert ds["fact"].code == "def fact : Nat → Nat"
    assert ds["withWhere"].code == "def withWhere : Nat"
    assert statement_without_name(ds["abs_thing"].code) == "(a b : Int) : |a| ≤ |b| ↔ a * a ≤ b * b"


def test_open_in_set_option_in_alias_and_mutual() -> None:
    ds = _decls(
        """
        namespace N
        open Foo in
        theorem usesOpen : True := trivial
        set_option linter.deprecated false in
        @[simp]
        theorem afterOption : True := trivial
        theorem foo_iff : True ↔ True := Iff.rfl
        alias ⟨foo_mp, _⟩ := foo_iff
        alias bar := foo_iff
        mutual
          def even : Nat → Bool
            | 0 => true
            | n + 1 => odd n
          def odd : Nat → Bool
            | 0 => false
            | n + 1 => even n
        end
        theorem last : True := trivial
        end N
        """
    )
    assert ds["N.usesOpen"].opens == ("Foo",)
    assert ds["N.afterOption"].opens == ()
    assert {"N.foo_mp", "N.bar"} <= set(ds) and ds["N.bar"].kind == "alias"
    assert {"N.even", "N.odd", "N.last"} <= set(ds)
    assert ds["N.last"].opens == ()  # `open Foo in` applied to one declaration only


def test_referenced_identifiers_skip_projections() -> None:
    ids = referenced_identifiers("by simp [Nat.add_comm, ← foo.mp] ; exact (bar x).baz h.trans @qux")
    assert {"Nat.add_comm", "foo.mp", "bar", "h.trans", "qux", "x", "simp", "exact"} <= ids
    assert "baz" not in ids


def test_resolution_through_namespaces_opens_private_protected(tmp_path) -> None:
    corpus = build_tree_corpus(tmp_path, TREE)

    def uses(name: str) -> set[str]:
        (i,) = corpus.name_index[name]
        return {corpus.premises[j].full_name for j in corpus.uses(i)}

    # same namespace, short names; `protected` needs its namespace; private helper of the same file
    assert uses("Lib.Algebra.mul_two") == {"Lib.Algebra.add_self", "Lib.Algebra.Nat.double", "Lib.Algebra.secret"}
    # `open Lib.Algebra` + projection `add_self.symm`; a protected name is not reachable by its last component
    assert uses("Top.useOpen") == {"Lib.Algebra.add_self"}
    # `open ... in` for one declaration; `_root_` qualified; fully qualified names
    assert uses("Top.useOpenIn") == {"Lib.Basic.base_fact"}
    assert uses("Top.useQualified") == {"Lib.Algebra.Nat.double", "Lib.Basic.base_fact"}
    # a declaration's own namespace is open in its body (`theorem Lib.Basic.extra` in no namespace)
    assert uses("Lib.Basic.extra") == {"Lib.Basic.base_fact"}
    # private declarations of another file and later declarations are never resolved
    assert uses("Top.usePrivateElsewhere") == set()
    assert uses("Lib.Basic.early") == set()
    assert corpus.tactic_proof[corpus.name_index["Lib.Algebra.mul_two"][0]]
    assert np.all(np.diff(corpus.uses_indptr) >= 0)
