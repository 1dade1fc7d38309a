"""Heuristic rules for multi-perspective search (MPS-Prover's rule-based perspectives).

MPS-Prover complements its learned critic with rules that need no model: prefer states with fewer
goals (goal reduction), avoid case splits, prefer shorter states. We add two rules the issue asks for:
penalise a tactic repeated on the same path (``simp`` again and again) and cycles. Cycles need no
score: an edge back to an ancestor is a *cycle* edge in `search.graph` and never re-queues anything.

Each rule is a feature of a node computed once, when the node is created, from the path that created
it (its best-policy path at that moment). `heuristic_score` is minus their weighted sum: higher is
better, like every perspective's score.

Cost: O(1) per node. A node's features are its parent's plus one edge; "this tactic already occurred on
the path" is a lookup in the set of the path's tactics, a persistent map (`immutables.Map`, a HAMT) that
each child extends without copying its parent's (log32 of the path length, i.e. at most a few levels).
Walking the path instead made each new node cost O(depth) (×2.8 per expansion from 1k to 10k nodes on
a deep graph; ``benchmarks/bench_mps_heuristics.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from immutables import Map

from search.config import HeuristicWeights
from search.graph import Edge, Node, SearchGraph

# Tactics that split the proof into cases (first word of the tactic). A tactic that increases the number
# of open goals also counts as a split (``constructor``, ``refine ⟨?_, ?_⟩``, ``apply`` with side goals).
CASE_SPLIT_TACTICS = frozenset(
    {
        "cases",
        "cases'",
        "rcases",
        "induction",
        "induction'",
        "interval_cases",
        "fin_cases",
        "by_cases",
        "split",
        "split_ifs",
        "match",
        "mod_cases",
    }
)
# These split only with an alternative pattern (``obtain ⟨a, b⟩ | h := ...``).
_PATTERN_SPLIT = frozenset({"obtain", "rintro", "rintros"})
_HEAD = re.compile(r"^\s*([^\s(\[⟨]+)")


@dataclass(frozen=True, slots=True)
class Features:
    goals: int  # open goals
    length: float  # len(pp) / len(root pp)
    cases: int  # case splits on the path
    repeats: int  # tactics on the path that already occurred earlier on it
    depth: int  # tactics on the path
    # the tactics on the path (a persistent set: a child shares its parent's and adds one)
    tactics: Map[str, bool] = field(default_factory=Map, compare=False, repr=False)


def tactic_head(tactic: str) -> str:
    m = _HEAD.match(tactic)
    return m.group(1) if m else ""


def is_case_split(tactic: str, goals_before: int, goals_after: int) -> bool:
    head = tactic_head(tactic)
    if head in CASE_SPLIT_TACTICS or head.startswith("cases") or head.startswith("induction"):
        return True
    if head in _PATTERN_SPLIT and "|" in tactic:
        return True
    return goals_after > goals_before


def node_features(graph: SearchGraph, node: Node) -> Features:
    """Features of ``node`` along its current best-policy path (the path that created it).

    Incremental: the parent's features (cached in ``extra["features"]``, computed first for ancestors
    that lack them) plus the last edge, so each node costs O(1)."""
    # Ancestors without features (a node scored before its parent): fill them in from the top, iteratively
    # so a deep chain cannot hit the recursion limit.
    pending: list[Node] = []
    e = node.best_parent
    while e is not None and "features" not in e.src.extra:
        pending.append(e.src)
        e = e.src.best_parent
    for anc in reversed(pending):
        anc.extra["features"] = _features(graph, anc)
    return _features(graph, node)


def _features(graph: SearchGraph, node: Node) -> Features:
    root_len = max(1, len(graph.root.pp))
    e: Edge | None = node.best_parent
    if e is None:
        return Features(goals=node.num_goals, length=len(node.pp) / root_len, cases=0, repeats=0, depth=0)
    parent = e.src
    pf: Features = parent.extra["features"]
    tactic = e.tactic
    split = 1 if is_case_split(tactic, parent.num_goals, node.num_goals) else 0
    return Features(
        goals=node.num_goals,
        length=len(node.pp) / root_len,
        cases=pf.cases + split,
        repeats=pf.repeats + (1 if tactic in pf.tactics else 0),
        depth=pf.depth + 1,
        tactics=pf.tactics.set(tactic, True),
    )


def heuristic_score(f: Features, w: HeuristicWeights) -> float:
    """Higher is more promising: minus the weighted sum of the rule penalties."""
    return -(w.goals * f.goals + w.length * f.length + w.cases * f.cases + w.repeats * f.repeats + w.depth * f.depth)
