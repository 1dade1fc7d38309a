"""Helpers for the mutation tests: real Mathlib files read from the shared corpus archive (never copied into
the repo), and a tiny Lean library with a double script that answers for it."""

from __future__ import annotations

import json
import sys
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
DOUBLE = TESTS / "double" / "repl_double.py"
MATHLIB_ARCHIVE = "corpus/corpus_mathlib4_2f65ba7.tar.zst"

# Files the tests read (one pass through the archive extracts all of them).
MATHLIB_FILES = (
    "Mathlib/Algebra/IsPrimePow.lean",
    "Mathlib/Algebra/Ring/Defs.lean",
    "Mathlib/Algebra/Ring/Commute.lean",
    "Mathlib/Algebra/Field/Basic.lean",
    "Mathlib/Algebra/Group/Basic.lean",
    "Mathlib/Algebra/Order/GroupWithZero/Unbundled.lean",
    "Mathlib/Analysis/SpecialFunctions/Pow/NNReal.lean",
    "Mathlib/Init/Order/Defs.lean",
    "Mathlib/RingTheory/Ideal/Basic.lean",
)


@lru_cache(maxsize=4)
def mathlib_files(archive: Path) -> dict[str, str]:
    import zstandard

    want = set(MATHLIB_FILES)
    out: dict[str, str] = {}
    with open(archive, "rb") as fh:
        reader = zstandard.ZstdDecompressor().stream_reader(fh)
        with tarfile.open(fileobj=reader, mode="r|") as tf:
            for m in tf:
                rel = m.name.split("/", 1)[1] if "/" in m.name else m.name
                if rel in want:
                    f = tf.extractfile(m)
                    assert f is not None
                    out[rel] = f.read().decode("utf-8")
                    if len(out) == len(want):
                        break
    return out


# ---------------------------------------------------------------------------------------------------
# A tiny library and the double's answers for it.
#
# How we know Lean answers like this: the shapes follow the REPL's recorded answers in
# ../shared/fixtures/repl/test (a `sorry` goal per theorem; tactic answers with `goals`; a `have … := by tac`
# whose tactic leaves goals answered with Lean's error-recovery shape: an "unsolved goals\n<goals>" error
# message, `goals: []`, "Incomplete: contains sorry" -- see name_generator.expected.out, where
# `{ rw … }` leaves `x > 0` open). `rw [h]` with `h : a + 0 = a` rewriting `a + 0` to `a` everywhere in the target
# is Lean's documented `rw` behaviour; `#print axioms` of a `native_decide` proof lists `Lean.ofReduceBool`
# (Lean's reference manual, "Validating a Lean Proof").

DEMO_FILE = """/- A demo library for the mutation tests. -/
import Demo.Prelude

namespace Demo

theorem add_zero' (a : Nat) : a + 0 = a := by simp

theorem mul_one' (a : Nat) : a * 1 = a := by simp

theorem eq_of_sub (a b : Nat) (h : a - 0 = b) : a + 0 = b := by omega

theorem foo (a b : Nat) (h : a + 0 = b) : b * 1 = a := by omega

theorem bar (n : Nat) : n * 1 = n := by native_decide

theorem broken (n : Nat) : n = n + 0 := by simp

theorem rec_thm (n : Nat) : n = n := rec_thm n

end Demo
"""

ROOT_FOO = "a b : Nat\nh : a + 0 = b\n⊢ b * 1 = a"
ROOT_BAR = "n : Nat\n⊢ n * 1 = n"


def demo_tree(tmp: Path) -> Path:
    root = tmp / "demo_src"
    (root / "Demo").mkdir(parents=True, exist_ok=True)
    (root / "Demo" / "Basic.lean").write_text(DEMO_FILE, encoding="utf-8")
    return root


def demo_script(*, crash_on: str | None = None, slow: float | None = None) -> dict[str, Any]:
    """The double's answers for `DEMO_FILE` and the mutants the pipeline builds from it."""
    foo_goal_rw = "a b : Nat\nh : a + 0 = b\n⊢ b = a"
    foo_hyp_rw = "a b : Nat\nh : a = b\n⊢ b * 1 = a"
    apply_goal = "case h\na b : Nat\nh : a + 0 = b\n⊢ a - 0 = b"
    theorems = {
        "add_zero'": {"goals": ["a : Nat\n⊢ a + 0 = a"]},
        "mul_one'": {"goals": ["a : Nat\n⊢ a * 1 = a"]},
        "eq_of_sub": {"goals": ["a b : Nat\nh : a - 0 = b\n⊢ a + 0 = b"]},
        "foo": {"goals": [ROOT_FOO]},
        "bar": {"goals": [ROOT_BAR]},
        "broken": {"error": "type mismatch\n  n\nhas type\n  Nat : Type"},
    }
    statements = {
        # foo with its goal rewritten by `rw [Demo.mul_one']`
        "(a b : Nat) (h : a + 0 = b) : b = a": {"goals": [foo_goal_rw]},
        # foo with h rewritten by `rw [Demo.add_zero'] at h`
        "(a b : Nat) (h : a = b) : b * 1 = a": {"goals": [foo_hyp_rw]},
        # foo with h replaced by what `apply Demo.eq_of_sub` needs
        "(a b : Nat) (h₁ : a - 0 = b) : b * 1 = a": {"goals": ["a b : Nat\nh₁ : a - 0 = b\n⊢ b * 1 = a"]},
        # bar with its goal rewritten: the unsound one (its proof goes through native_decide)
        "(n : Nat) : n = n": {"goals": ["n : Nat\n⊢ n = n"]},
    }
    tactics: dict[str, dict[str, Any]] = {
        "a : Nat\n⊢ a + 0 = a": {"simp": {"goals": []}},
        "a : Nat\n⊢ a * 1 = a": {"simp": {"goals": []}},
        "a b : Nat\nh : a - 0 = b\n⊢ a + 0 = b": {"omega": {"goals": []}},
        ROOT_FOO: {
            "rw [Demo.mul_one']": {"goals": [foo_goal_rw]},
            "rw [Demo.add_zero'] at h": {"goals": [foo_hyp_rw]},
            "have h : a + 0 = b := by apply Demo.eq_of_sub": {
                "error": "unsolved goals\n" + apply_goal,
                "recover": True,
            },
            "omega": {"goals": []},
        },
        ROOT_BAR: {
            "rw [Demo.mul_one']": {"goals": ["n : Nat\n⊢ n = n"]},
            "native_decide": {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]},
        },
        # the mutants' proofs, line by line
        foo_goal_rw: {
            "have this : b * 1 = a := by omega": {"goals": [foo_goal_rw.replace("⊢", "this : b * 1 = a\n⊢")]},
        },
        foo_goal_rw.replace("⊢", "this : b * 1 = a\n⊢"): {
            "rw [Demo.mul_one'] at this": {"goals": [foo_goal_rw.replace("⊢", "this : b = a\n⊢")]},
        },
        foo_goal_rw.replace("⊢", "this : b = a\n⊢"): {"exact this": {"goals": []}},
        foo_hyp_rw: {
            "have h : a + 0 = b := by rwa [Demo.add_zero']": {
                "goals": ["a b : Nat\nh✝ : a = b\nh : a + 0 = b\n⊢ b * 1 = a"]
            },
        },
        "a b : Nat\nh✝ : a = b\nh : a + 0 = b\n⊢ b * 1 = a": {"omega": {"goals": []}},
        "a b : Nat\nh₁ : a - 0 = b\n⊢ b * 1 = a": {
            "have h : a + 0 = b := by apply Demo.eq_of_sub <;> assumption": {
                "goals": ["a b : Nat\nh₁ : a - 0 = b\nh : a + 0 = b\n⊢ b * 1 = a"]
            },
        },
        "a b : Nat\nh₁ : a - 0 = b\nh : a + 0 = b\n⊢ b * 1 = a": {"omega": {"goals": []}},
        "n : Nat\n⊢ n = n": {
            "have this : n * 1 = n := by native_decide": {
                "goals": ["n : Nat\nthis : n * 1 = n\n⊢ n = n"],
                "axioms": ["propext", "Lean.ofReduceBool"],
            },
        },
        "n : Nat\nthis : n * 1 = n\n⊢ n = n": {
            "rw [Demo.mul_one'] at this": {"goals": ["n : Nat\nthis : n = n\n⊢ n = n"]}
        },
        "n : Nat\nthis : n = n\n⊢ n = n": {"exact this": {"goals": []}},
    }
    if crash_on is not None:
        tactics[ROOT_FOO][crash_on] = {"crash": True}
    if slow is not None:
        for st in (foo_goal_rw, foo_hyp_rw):
            for tac in tactics[st].values():
                tac["sleep"] = slow
    return {"lean_version": "4.33.0-rc2-double", "theorems": theorems, "statements": statements, "tactics": tactics}


def write_script(tmp: Path, script: dict[str, Any], name: str = "mutate.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(script, ensure_ascii=False), encoding="utf-8")
    return p


def double_command(script_path: Path) -> list[str]:
    return [sys.executable, str(DOUBLE), "--script", str(script_path)]
