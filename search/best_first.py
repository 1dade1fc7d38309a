"""Best-first search (ReProver; BFS-Prover's length-normalised variant).

The frontier is one max-heap of open nodes keyed by `policy_priority`:

* ``tactic_score = "sum"``, ``length_alpha = 0`` (default) — ReProver: the sum of the tactics'
  log-probabilities along the best path to the node (each tactic's log-prob is the sum over its tokens).
* ``tactic_score = "mean"``, ``length_alpha = α > 0`` — BFS-Prover(-V2): per-token mean log-prob per
  tactic, path score divided by ``depth ** α`` so that deep paths are not starved by the product of
  many probabilities. (α = 0.5 is a reasonable start; the papers tune it.)

Ties go to the node created first (FIFO). When a better path reaches a node that is still in the
frontier, the node is re-queued with the better priority (the old heap entry is skipped lazily).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

from search.config import SearchConfig
from search.engine import ProofSearch, policy_priority
from search.graph import Node, SearchGraph


class BestFirstFrontier:
    def __init__(self, alpha: float = 0.0) -> None:
        self.alpha = alpha
        self._heap: list[tuple[float, int, int, Node]] = []
        self._seq = itertools.count()
        self._queued: set[int] = set()
        self._popped: set[int] = set()
        self.critic_time = 0.0

    def _push(self, node: Node) -> None:
        if node.id in self._popped:
            return
        heapq.heappush(self._heap, (-policy_priority(node, self.alpha), next(self._seq), node.version, node))
        self._queued.add(node.id)

    def add(self, nodes: Sequence[Node]) -> None:
        for n in nodes:
            self._push(n)

    def update(self, node: Node) -> None:
        self._push(node)

    def pop(self) -> Node | None:
        heap = self._heap
        while heap:
            _, _, version, node = heapq.heappop(heap)
            if version != node.version or node.id in self._popped or node.expanded or node.status != "open":
                continue
            self._popped.add(node.id)
            self._queued.discard(node.id)
            return node
        return None

    def release(self, node: Node) -> None:
        self._popped.discard(node.id)

    def last_perspective(self) -> str | None:
        return None

    def __len__(self) -> int:
        return len(self._queued)


class BestFirstSearch(ProofSearch):
    algorithm = "best_first"

    def make_frontier(self, graph: SearchGraph) -> BestFirstFrontier:
        return BestFirstFrontier(self.config.length_alpha)


__all__ = ["BestFirstFrontier", "BestFirstSearch", "SearchConfig"]
