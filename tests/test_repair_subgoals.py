"""Sub-goal statements from real goal strings: the REPL transcripts' sorries (Lean 4.33), the goals in Lean's
recorded ``unsolved goals`` errors on LLM proofs (inaccessible names, shadowed names, instances, universes,
multi-line hypotheses), and the elaborated goals DeepSeek ships with miniF2F (488 theorems); reassembly."""

from __future__ import annotations

import json
import re

import pytest

from data.lean_errors import load_recorded_attempts
from prover.lean.record import iter_transcripts, read_transcript
from repair import reassemble as RA
from repair.subgoals import GoalNotStatable, parse_goal, split_goals, sub_lemma
from repair.tree import parse


def test_goal_with_cases_lets_instances_and_inaccessible_names() -> None:
    g = parse_goal(
        "case succ\nα : Type u_1\ninst✝ : Fintype α\nn✝ : ℕ\nn : ℕ := n✝ + 1\nh₀✝ h₀ : 0 < n\n"
        "a✝ :\n  n * n >\n    n\n⊢ n✝ < n"
    )
    assert g.case == "succ" and g.target == "n✝ < n"
    assert [h.names for h in g.hyps] == [("α",), ("inst✝",), ("n✝",), ("n",), ("h₀✝", "h₀"), ("a✝",)]
    assert g.hyps[3].value == "n✝ + 1" and g.hyps[5].type == "n * n > n"
    lem = sub_lemma(g, "t_sub1")
    assert lem.statement == (
        "theorem t_sub1.{u_1} (α : Type u_1) [Fintype α] (n_1 : ℕ) (n : ℕ) (n_def : n = n_1 + 1) (h₀_1 h₀ : 0 < n) "
        "(a_1 : n * n > n) :\n    n_1 < n := by"
    )
    # rename_i names every inaccessible hypothesis in context order (instances keep theirs), then the call
    assert lem.call == "rename_i _ n_1 h₀_1 a_1\nexact t_sub1 α n_1 n rfl h₀_1 h₀ a_1"
    assert "✝" not in lem.statement


def test_metavariables_are_not_statable() -> None:
    with pytest.raises(GoalNotStatable):
        sub_lemma("x : ℕ\n⊢ x = ?m.12", "s")
    with pytest.raises(GoalNotStatable):
        sub_lemma("x : ℕ", "s")


def test_repl_transcript_sorries(shared_dir) -> None:
    root = shared_dir / "fixtures" / "repl" / "test"
    goals = []
    for path in iter_transcripts(root):
        for _, answer in read_transcript(path):
            for s in (answer or {}).get("sorries", []):
                goals.append(s["goal"])
    assert len(goals) >= 20
    statable = 0
    for g in goals:
        goal = parse_goal(g)
        assert goal.target and "⊢" not in goal.target
        try:
            lem = sub_lemma(goal, "s")
        except GoalNotStatable:
            continue
        statable += 1
        assert lem.statement.startswith("theorem s") and lem.statement.endswith(":= by")
        assert "✝" not in lem.statement
        names = [n for h in goal.hyps if not h.is_instance for n in h.names]
        assert len(lem.call.split("exact s", 1)[1].split()) >= len(names)
    assert statable >= len(goals) - 3


@pytest.fixture(scope="module")
def recorded_goals(shared_dir):
    path = shared_dir / "fixtures" / "lean_errors" / "pairs.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    out = []
    for r in load_recorded_attempts(path):
        for m in r.errors:
            if m.data.startswith("unsolved goals"):
                out += split_goals(m.data)
    return out


def test_goals_from_recorded_unsolved_goals(recorded_goals) -> None:
    assert len(recorded_goals) >= 50
    statable = 0
    for g in recorded_goals:
        goal = parse_goal(g)
        try:
            lem = sub_lemma(goal, "t_sub1")
        except GoalNotStatable as e:
            assert "metavariables" in str(e)
            continue
        statable += 1
        head, target = lem.statement.split(" :\n    ", 1)
        assert "✝" not in lem.statement  # inaccessible names renamed everywhere
        # instances become anonymous instance binders
        for h in goal.hyps:
            if h.is_instance:
                assert f"[{h.type}]" in head or "✝" in h.type
        ren = dict(lem.renamed)
        assert target.removesuffix(" := by") == re.sub(r"\S+✝\S*", lambda m, ren=ren: ren[m.group(0)], goal.target)
    assert statable >= len(recorded_goals) - 2


def test_shadowed_names_and_universes_from_a_recorded_goal(recorded_goals) -> None:
    g = next(g for g in recorded_goals if "R'✝ : Type u'" in g)
    lem = sub_lemma(g, "s")
    assert lem.statement.startswith("theorem s.{u, u', v, v', w, w'} (R_1 : Type u) (R_2 : Type u')")
    assert "[Module R_1 M]" in lem.statement and "[Module R_2 M₁]" in lem.statement
    assert lem.call.startswith("rename_i R_1 R_2 _")


def test_minif2f_elaborated_goals(shared_dir) -> None:
    rows = []
    for split in ("valid", "test"):
        path = shared_dir / "benchmarks" / f"minif2f_dsv15_{split}.jsonl"
        if path.is_file():
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        pytest.skip("miniF2F (DeepSeek variant) not found")
    for r in rows:
        goal = parse_goal(r["goal"])
        lem = sub_lemma(goal, r["name"] + "_sub")
        # the hypotheses are the statement's binders, in order
        ren = dict(lem.renamed)
        names = [ren.get(n, n) for h in goal.hyps for n in h.names]
        at = 0
        for h in goal.hyps:
            if "✝" not in h.type:
                at = lem.statement.index(f"({' '.join(ren.get(n, n) for n in h.names)} : {h.type})", at)
        assert lem.call.split("\n")[-1] == "exact " + " ".join([r["name"] + "_sub", *names])
        assert "✝" not in lem.statement


# ---------------------------------------------------------------------------------------------------
# Reassembly


def test_splice_tactic_sorries_with_indentation() -> None:
    text = "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · sorry\n"
    offs = RA.sorry_offsets(text)
    out = RA.splice(text, [RA.Fill(offs[0], "exact hp"), RA.Fill(offs[1], "have h := hq\nexact h")])
    assert out == (
        "theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · exact hp\n"
        "  · have h := hq\n    exact h\n"
    )


def test_splice_inline_have_and_term_sorry() -> None:
    text = "theorem t (a : ℕ) : a = a := by\n  have h : a + 0 = a := by sorry\n  have g : a = a := sorry\n  rfl\n"
    a, b = RA.sorry_offsets(text)
    out = RA.splice(text, [RA.Fill(a, "simp\nomega"), RA.Fill(b, "rfl")])
    assert out == (
        "theorem t (a : ℕ) : a = a := by\n  have h : a + 0 = a := by\n    simp\n    omega\n"
        "  have g : a = a := by rfl\n  rfl\n"
    )
    # the spliced text parses with the filled blocks where the sorries were
    (d,) = parse(out).decls
    assert [i.head for i in d.main.items[0].blocks[0].items] == ["simp", "omega"]


def test_splice_refuses_a_position_without_sorry() -> None:
    with pytest.raises(RA.SpliceError):
        RA.splice("theorem t : True := by\n  trivial\n", [RA.Fill(0, "trivial")])


def test_add_lemmas_before_the_target_and_its_attributes() -> None:
    text = "import Mathlib\n\n/-- doc -/\n@[simp]\ntheorem t : True := by\n  exact t_sub1\n"
    out = RA.add_lemmas(text, "t", ["theorem t_sub1 : True := by\n  trivial"])
    assert out == (
        "import Mathlib\n\ntheorem t_sub1 : True := by\n  trivial\n\n/-- doc -/\n@[simp]\ntheorem t : True := by\n"
        "  exact t_sub1\n"
    )


def test_lemma_reassembly_round_trip(recorded_goals) -> None:
    """A sub-lemma made from a recorded goal, placed before the theorem with its call at the sorry: the text
    parses into the lemma and the theorem, the call sits where the sorry was."""
    goal = next(g for g in recorded_goals if "✝" in g and "?m" not in g)
    lem = sub_lemma(goal, "t_sub1")
    text = "theorem t : True := by\n  have h : True := by\n    sorry\n  trivial\n"
    (off,) = RA.sorry_offsets(text)
    out = RA.add_lemmas(RA.splice(text, [RA.Fill(off, lem.call)]), "t", [lem.statement + "\n  sorry"])
    names = [d.name for d in parse(out).decls]
    assert names == ["t_sub1", "t"]
    assert "    rename_i " in out and "    exact t_sub1 " in out
