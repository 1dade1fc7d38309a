"""The evaluation tasks: tactic steps by layout, per-tactic items (text-level proxy), recall and MRR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_retrieval_trees import write_tree

from retrieval.corpus import Corpus
from retrieval.evaluate import EvalItem, evaluate, tactic_items, tactic_steps


def _steps(body: str) -> list[str]:
    return [body[a:b].strip() for a, b in tactic_steps(body)]


def test_tactic_steps_follow_the_layout() -> None:
    body = """ by
  intro x hx
  have h : P x := by
    simp [foo,
      bar]
  · exact baz h
    ring
  rcases hx with ⟨a, b⟩ | c
  case inl =>
    apply qux
  all_goals simp"""
    assert _steps(body) == [
        "intro x hx", "have h : P x := by", "simp [foo,\n      bar]", "· exact baz h", "ring",
        "rcases hx with ⟨a, b⟩ | c", "case inl =>", "apply qux", "all_goals simp",
    ]
    assert _steps(" by simp [a]; ring") == ["simp [a]; ring"]
    assert _steps(" by exact foo\n    (bar x)") == ["exact foo\n    (bar x)"]  # a continuation line
    assert tactic_steps(" foo x") == []  # a term proof has no tactic steps


TREE = {
    "A.lean": """
        theorem a1 : True := trivial

        theorem a2 (n : Nat) : n = n := rfl
        """,
    "B.lean": """
        import A

        namespace B

        theorem uses_both (n : Nat) : True ∧ n = n := by
          constructor
          · exact a1
          · exact a2 n

        theorem term_proof : True := a1

        end B
        """,
}


def test_tactic_items_gold_per_step_and_query_is_statement_plus_proof_so_far(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "lib", TREE)
    c = Corpus.from_lean_sources([root], progress=False, workers=1)
    i = c.name_index["B.uses_both"][0]
    thm = EvalItem(i, "(n : Nat) : True ∧ n = n", c.uses(i), int(c.premise_file[i]), c.premises[i].line)
    items = tactic_items(c, [thm])
    assert [[c.premises[j].full_name for j in it.gold] for it in items] == [["a1"], ["a2"]]
    assert items[0].query.startswith("(n : Nat) : True ∧ n = n\nby constructor")
    assert "exact a1" in items[1].query and "exact a2" not in items[1].query
    # a retriever that always answers a1 then a2: recall@1 is 1/2 over the two steps, MRR (1 + 1/2) / 2
    res = evaluate(lambda q, m, k: np.array([c.name_index["a1"][0], c.name_index["a2"][0]]), c, items)
    assert res.n_theorems == 2 and res.recall[1] == 0.5 and res.mrr == 0.75
