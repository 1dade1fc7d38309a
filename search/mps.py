"""Multi-perspective search (after MPS-Prover, Liang et al. 2025, arXiv:2505.10962).

MPS-Prover's observation: a stepwise prover guided by one signal (the policy's log-probs, or one
critic) keeps expanding the states that signal likes and gets trapped in unproductive regions. It
therefore scores states from several *perspectives* — a learned critic (trained to predict how far a
state is from ``no goals``) and rule-based heuristics (goal reduction, few case splits, short states)
— and lets each of them choose some of the states that are explored.

The paper leaves the exact scheduling open; our choices, all configurable in `search.config.MPSConfig`:

* The frontier keeps **one priority queue per perspective** over the same open nodes:
  ``policy`` (the best-first priority, `search.engine.policy_priority`), ``critic`` (`Critic.score`,
  higher is better), ``heuristic`` (`search.heuristics.heuristic_score`, the weighted rules), and the
  single rules ``goals`` / ``length`` / ``cases`` and ``breadth`` (shallowest first). Every queue breaks
  ties by the policy priority, then FIFO.
* **Expansions are drawn from the perspectives in turn**, round-robin over ``mps.perspectives``
  (repeat a name to give it more turns). A node expanded through one perspective leaves all queues.
  An empty queue passes its turn to the next.
* The critic scores each new state once, in one batched call per expansion round; heuristic features
  are computed once, from the path that created the node.
* Without a critic model, the ``critic`` perspective is dropped with a warning (the search still runs
  on the remaining ones); with none left it falls back to ``policy``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Sequence

from prover.models.base import Critic
from search.config import SearchConfig
from search.engine import ProofSearch, policy_priority
from search.graph import Node, SearchGraph
from search.heuristics import heuristic_score, node_features

log = logging.getLogger(__name__)

_FEATURE_PERSPECTIVES = frozenset({"heuristic", "goals", "length", "cases"})


class MultiPerspectiveFrontier:
    def __init__(self, graph: SearchGraph, config: SearchConfig, critic: Critic | None) -> None:
        mps = config.mps
        schedule = list(mps.perspectives)
        if critic is None and "critic" in schedule:
            log.warning("MPS: no critic model configured; the 'critic' perspective is skipped")
            schedule = [p for p in schedule if p != "critic"]
        if not schedule:
            schedule = ["policy"]
        self.schedule = schedule
        self.graph = graph
        self.critic = critic if "critic" in schedule else None
        self.alpha = config.length_alpha
        self.weights = mps.heuristics
        self.critic_batch = max(1, mps.critic_batch_size)
        self.needs_features = any(p in _FEATURE_PERSPECTIVES for p in schedule)
        self._heaps: dict[str, list[tuple[float, float, int, int, Node]]] = {p: [] for p in dict.fromkeys(schedule)}
        self._seq = itertools.count()
        self._turn = 0
        self._queued: set[int] = set()
        self._popped: set[int] = set()
        self._last: str | None = None
        self.critic_time = 0.0
        self.critic_calls = 0

    # Scores: higher is better for every perspective.
    def _key(self, p: str, node: Node) -> float:
        if p == "policy":
            return policy_priority(node, self.alpha)
        if p == "critic":
            return node.critic if node.critic is not None else -math.inf
        if p == "breadth":
            return -float(node.depth)
        f = node.extra["features"]
        if p == "heuristic":
            return heuristic_score(f, self.weights)
        if p == "goals":
            return -float(f.goals)
        if p == "length":
            return -f.length
        if p == "cases":
            return -float(f.cases)
        raise KeyError(p)

    def _push(self, node: Node) -> None:
        if node.id in self._popped:
            return
        pol = policy_priority(node, self.alpha)
        seq = next(self._seq)
        for p, heap in self._heaps.items():
            heapq.heappush(heap, (-self._key(p, node), -pol, seq, node.version, node))
        self._queued.add(node.id)

    def add(self, nodes: Sequence[Node]) -> None:
        if self.critic is not None:
            todo = [n for n in nodes if n.critic is None]
            t = time.monotonic()
            for i in range(0, len(todo), self.critic_batch):
                chunk = todo[i : i + self.critic_batch]
                scores = self.critic.score([n.pp for n in chunk])
                self.critic_calls += 1
                if len(scores) != len(chunk):
                    raise RuntimeError(f"critic returned {len(scores)} scores for {len(chunk)} states")
                for n, s in zip(chunk, scores, strict=True):
                    n.critic = float(s)
            self.critic_time += time.monotonic() - t
        for n in nodes:
            if self.needs_features and "features" not in n.extra:
                n.extra["features"] = node_features(self.graph, n)
            self._push(n)

    def update(self, node: Node) -> None:
        if self.needs_features and "features" not in node.extra:
            node.extra["features"] = node_features(self.graph, node)
        self._push(node)

    def _pop_from(self, heap: list) -> Node | None:
        while heap:
            _, _, _, version, node = heapq.heappop(heap)
            if version != node.version or node.id in self._popped or node.expanded or node.status != "open":
                continue
            return node
        return None

    def pop(self) -> Node | None:
        n = len(self.schedule)
        for _ in range(n):
            p = self.schedule[self._turn % n]
            self._turn += 1
            node = self._pop_from(self._heaps[p])
            if node is not None:
                self._popped.add(node.id)
                self._queued.discard(node.id)
                node.extra["perspective"] = p
                self._last = p
                return node
        self._last = None
        return None

    def release(self, node: Node) -> None:
        self._popped.discard(node.id)

    def last_perspective(self) -> str | None:
        return self._last

    def __len__(self) -> int:
        return len(self._queued)


class MultiPerspectiveSearch(ProofSearch):
    algorithm = "mps"

    def make_frontier(self, graph: SearchGraph) -> MultiPerspectiveFrontier:
        return MultiPerspectiveFrontier(graph, self.config, self.critic)
