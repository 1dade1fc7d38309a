"""Proof search: the search graph, best-first and multi-perspective search, proof text extraction.

* `search.graph` — `SearchGraph`: nodes are Lean states deduplicated by their pretty-printed goals,
  edges are tactics (with scores, Lean's time, and the failed ones too); proved / failed status
  propagates to ancestors; export to JSON and networkx.
* `search.engine` — the loop shared by all algorithms (`ProofSearch.search`), budgets (wall time,
  expansions, Lean calls, depth), batched generation, surviving Lean timeouts and crashes.
* `search.best_first` — ReProver's best-first search, with BFS-Prover's length normalisation.
* `search.mps` — multi-perspective search (policy, critic, heuristic rules drawn in turn).
* `search.heuristics` — the rule-based perspectives.
* `search.proof_text` — a path of tactics → Lean text (multi-goal aware, multi-line tactics).

`build_search(config, ...)` picks the algorithm named by ``config.algorithm``.
"""

from __future__ import annotations

from prover.models.base import Critic
from search.config import SearchConfig
from search.engine import ProofSearch, SearchResult, SearchStats

ALGORITHMS = ("best_first", "mps")


def build_search(
    config: SearchConfig,
    *,
    num_tactics: int = 8,
    tactic_timeout: float | None = None,
    critic: Critic | None = None,
) -> ProofSearch:
    """The search algorithm named by ``config.algorithm`` (``best_first`` or ``mps``)."""
    if config.algorithm == "best_first":
        from search.best_first import BestFirstSearch

        return BestFirstSearch(config, num_tactics=num_tactics, tactic_timeout=tactic_timeout, critic=critic)
    if config.algorithm == "mps":
        from search.mps import MultiPerspectiveSearch

        return MultiPerspectiveSearch(config, num_tactics=num_tactics, tactic_timeout=tactic_timeout, critic=critic)
    raise ValueError(f"unknown search algorithm {config.algorithm!r}; choose from {ALGORITHMS}")


__all__ = ["ALGORITHMS", "ProofSearch", "SearchConfig", "SearchResult", "SearchStats", "build_search"]
