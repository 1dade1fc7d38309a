"""`prover.lean.goals` on goals Lean really printed (REPL fixtures, LeanDojo states, real error messages)."""

from __future__ import annotations

import json

import pytest

from prover.lean.goals import GoalParseError, flat, parse_goal, parse_goals, unsolved_goals
from prover.lean.record import read_transcript


def _answers(shared, name: str) -> list[dict]:
    """The REPL's recorded answers to the requests of ``NAME.in``."""
    return [a for _, a in read_transcript(shared / "fixtures" / "repl" / "test" / name)]


def test_sorry_goal_from_the_repl(shared_dir):
    # variables.expected.out: the root goal of a theorem with section variables
    goal = _answers(shared_dir, "variables.in")[2]["sorries"][0]["goal"]
    g = parse_goal(goal)
    assert g.case is None
    assert [h.names for h in g.hypotheses] == [("x", "y"), ("f",), ("h0",), ("h1",)]
    assert g.type_of("f") == "Nat → Nat"
    assert g.type_of("h1") == "f (4 * x * y) = 2 * y * (f (x + y) + f (x - y))"
    assert g.target == "∃ k, f 2015 = k"
    assert parse_goal(g.pp()) == g


def test_shadowed_hypothesis(shared_dir):
    # name_generator.expected.out: `have h : x > 0` printed as `h0 h : x > 0`
    goals = _answers(shared_dir, "name_generator.in")[1]["goals"]
    g = parse_goal(goals[0])
    assert g.hypotheses[1].names == ("h0", "h")
    assert g.type_of("h") == "x > 0" and g.target == "False"


def test_unsolved_goals_message_with_cases(shared_dir):
    # Mathlib/test/H20231115_3: `induction'` leaving two cases
    ans = _answers(shared_dir, "Mathlib/test/H20231115_3.in")[1]
    data = ans["messages"][0]["data"]
    goals = unsolved_goals(data)
    assert goals is not None and [g.case for g in goals] == ["zero", "succ"]
    assert goals[0].hypotheses == () and goals[0].target == "0 + 1 > 0"
    assert goals[1].type_of("hx") == "x + 1 > x" and goals[1].target == "x + 1 + 1 > x + 1"
    assert unsolved_goals("unknown identifier 'foo'") is None


def test_leandojo_states_with_inaccessible_names(shared_dir):
    rows = [json.loads(x) for x in (shared_dir / "traced" / "traced_sample.jsonl").read_text().splitlines() if x]
    for r in rows:
        for key in ("state_before", "state_after"):
            text = r[key]
            if not text or text == "no goals":
                continue
            goals = parse_goals(text)
            assert len(goals) == text.count("⊢")
            for g in goals:
                assert g.target and all(h.names and h.type for h in g.hypotheses)
    g = parse_goals(rows[0]["state_before"])[0]
    assert g.names[1] == "inst✝²" and g.type_of("e") == "C ≌ D"


def test_continuation_lines_and_let_values():
    text = "n : ℕ\nx : ℕ := n + 1\nh :\n  a_very_long_hypothesis_name_that_wraps =\n    other\n⊢ x =\n    n + 1"
    g = parse_goal(text)
    assert g.hypotheses[1].value == "n + 1" and g.type_of("x") == "ℕ"
    assert flat(g.type_of("h")) == "a_very_long_hypothesis_name_that_wraps = other"
    assert flat(g.target) == "x = n + 1"


def test_not_a_goal():
    with pytest.raises(GoalParseError):
        parse_goal("this is not a goal")
    assert parse_goals("") == []
