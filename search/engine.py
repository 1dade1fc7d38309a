"""The search loop shared by every algorithm; algorithms differ only in their `Frontier`.

One round: pop up to ``expansion_batch`` open nodes from the frontier → (retrieve premises per state)
→ one ``generator.generate`` call for all of them → run each node's distinct candidates in Lean, best
first → record every result as an edge → give the new nodes to the frontier. The loop ends when the
root is proved (and the proof passed ``accept``, the agent's soundness gate), a budget is spent, or the
frontier is empty.

Robustness: a `LeanError` is an ``error`` edge; `LeanTimeout` / `LeanCrashed` raised by the Lean layer
for one tactic become ``timeout`` / ``crash`` edges and the search goes on (after
``max_crashes`` crashes it stops with ``stop_reason == "crashes"``). Anything else raised by the
environment, the generator or the critic propagates to the caller.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prover.lean.env import LeanEnv
from prover.lean.types import LeanCrashed, LeanError, LeanTimeout, ProofFinished, TacticState, Theorem
from prover.models.base import Candidate, Critic, StepContext, TacticGenerator
from prover.models.prompts import theorem_full_name
from retrieval.base import Premise, Retriever
from search.config import SearchConfig
from search.graph import Edge, Node, SearchGraph
from search.proof_text import normalize_tactic

log = logging.getLogger(__name__)

STOP_REASONS = ("proved", "expansions", "lean_calls", "time", "exhausted", "depth", "crashes", "unsound")


@dataclass
class SearchStats:
    """Counters of one search; a copy is handed to the ``progress`` callback after every expansion."""

    expansions: int = 0
    lean_calls: int = 0
    generate_calls: int = 0
    candidates: int = 0  # candidates returned by the generator
    skipped: int = 0  # blank, duplicate-within-expansion or banned candidates (not sent to Lean)
    nodes: int = 1
    edges: int = 0
    errors: int = 0
    timeouts: int = 0
    crashes: int = 0
    duplicates: int = 0  # tactics that reached a state already in the graph
    cycles: int = 0
    depth_limited: int = 0  # popped nodes not expanded because of max_depth
    gate_rejections: int = 0
    max_depth: int = 0
    frontier: int = 1
    elapsed: float = 0.0
    generate_time: float = 0.0
    lean_time: float = 0.0
    retrieval_time: float = 0.0
    critic_time: float = 0.0
    proved: bool = False
    stop_reason: str | None = None
    perspectives: dict[str, int] = field(default_factory=dict)  # expansions drawn from each (MPS)

    def copy(self) -> SearchStats:
        c = copy.copy(self)
        c.perspectives = dict(self.perspectives)
        return c

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["perspectives"] = dict(self.perspectives)
        for k in ("elapsed", "generate_time", "lean_time", "retrieval_time", "critic_time"):
            d[k] = round(d[k], 6)
        return d


@dataclass
class SearchResult:
    graph: SearchGraph
    stats: SearchStats

    @property
    def proved(self) -> bool:
        return self.graph.proved

    @property
    def stop_reason(self) -> str | None:
        return self.stats.stop_reason

    @property
    def proof_path(self) -> list[Edge] | None:
        return self.graph.proof_path()

    @property
    def tactics(self) -> list[str] | None:
        return self.graph.proof_tactics()


class Frontier(Protocol):
    """Which open node to expand next."""

    critic_time: float

    def add(self, nodes: Sequence[Node]) -> None:
        """New nodes (not yet expanded)."""
        ...

    def update(self, node: Node) -> None:
        """``node``'s policy score improved (a better path reached it)."""
        ...

    def pop(self) -> Node | None:
        """The next node to expand (never the same node twice), or None when empty."""
        ...

    def release(self, node: Node) -> None:
        """Forget that ``node`` was popped without being expanded, so `update` can queue it again."""
        ...

    def last_perspective(self) -> str | None: ...

    def __len__(self) -> int: ...


def policy_priority(node: Node, alpha: float) -> float:
    """ReProver's priority (alpha = 0): cumulative score of the best path. BFS-Prover's length
    normalisation (alpha > 0): the same divided by path_length ** alpha."""
    if alpha == 0.0 or node.path_len <= 1:
        return node.path_score
    return node.path_score / (node.path_len**alpha)


AcceptFn = Callable[[list[Edge]], bool]
ProgressFn = Callable[[SearchStats], None]


class ProofSearch:
    """Base class: the loop. Subclasses provide `make_frontier`."""

    algorithm = "base"

    def __init__(
        self,
        config: SearchConfig,
        *,
        num_tactics: int = 8,
        tactic_timeout: float | None = None,
        critic: Critic | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.num_tactics = config.num_tactics if config.num_tactics is not None else num_tactics
        self.tactic_timeout = config.tactic_timeout if config.tactic_timeout is not None else tactic_timeout
        self.critic = critic
        self.clock = clock
        self._banned = frozenset(normalize_tactic(t) for t in config.banned_tactics)

    def make_frontier(self, graph: SearchGraph) -> Frontier:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------------

    def search(
        self,
        env: LeanEnv,
        root: TacticState,
        generator: TacticGenerator,
        *,
        theorem: Theorem | None = None,
        retriever: Retriever | None = None,
        premises_k: int = 0,
        progress: ProgressFn | None = None,
        accept: AcceptFn | None = None,
        seed: int | None = None,
    ) -> SearchResult:
        """Search for a proof of ``root``. ``accept(path)`` is called when the root becomes proved; if it
        returns False, the path's last edge is marked ``unsound`` and the search goes on. ``seed`` goes to
        the generator with every state (`StepContext.seed`)."""
        cfg = self.config
        t0 = self.clock()
        graph = SearchGraph(root, theorem=theorem.name if theorem is not None else None)
        graph.meta.update(
            algorithm=self.algorithm,
            num_tactics=self.num_tactics,
            tactic_score=cfg.tactic_score,
            length_alpha=cfg.length_alpha,
        )
        stats = SearchStats()
        frontier = self.make_frontier(graph)
        frontier.add([graph.root])
        run = _Run(self, env, generator, graph, frontier, stats, t0, theorem, retriever, premises_k, accept, seed)
        if progress is not None:  # the root state is there: the first expansion starts (a live line says so)
            progress(stats.copy())
        stop: str | None = None
        while stop is None:
            stop = run.budget_stop(round_start=True)
            if stop is not None:
                break
            limit = cfg.expansion_batch
            if cfg.max_expansions is not None:
                limit = min(limit, cfg.max_expansions - stats.expansions)
            batch: list[Node] = []
            while len(batch) < limit:
                node = frontier.pop()
                if node is None:
                    break
                if cfg.max_depth is not None and node.depth >= cfg.max_depth:
                    stats.depth_limited += 1
                    frontier.release(node)  # a shorter path found later may bring it under the limit
                    node.extra["depth_limited"] = node.depth
                    continue
                p = frontier.last_perspective()
                if p is not None:
                    stats.perspectives[p] = stats.perspectives.get(p, 0) + 1
                batch.append(node)
            if not batch:
                stop = "depth" if stats.depth_limited else "exhausted"
                break
            stop = run.expand(batch, progress)
        stats.stop_reason = stop
        stats.proved = graph.proved
        stats.elapsed = self.clock() - t0
        stats.critic_time = frontier.critic_time
        stats.frontier = len(frontier)
        graph.stop_reason = stop
        graph.meta["stats"] = stats.to_json()
        return SearchResult(graph, stats)


class _Run:
    """State of one `ProofSearch.search` call (keeps the loop's hot path free of attribute chains)."""

    def __init__(
        self,
        search: ProofSearch,
        env: LeanEnv,
        generator: TacticGenerator,
        graph: SearchGraph,
        frontier: Frontier,
        stats: SearchStats,
        t0: float,
        theorem: Theorem | None,
        retriever: Retriever | None,
        premises_k: int,
        accept: AcceptFn | None,
        seed: int | None,
    ) -> None:
        self.s = search
        self.cfg = search.config
        self.env = env
        self.generator = generator
        self.graph = graph
        self.frontier = frontier
        self.stats = stats
        self.t0 = t0
        self.clock = search.clock
        self.theorem = theorem
        self.retriever = retriever if premises_k > 0 else None
        self.premises_k = premises_k
        self.accept = accept
        self.use_mean = self.cfg.tactic_score == "mean"
        self.deadline = None if self.cfg.time_limit is None else t0 + self.cfg.time_limit
        self.seed = seed
        self.name = theorem_full_name(theorem)  # InternLM prompts show LeanDojo's full_name
        self._of_theorem = f" of {self.name}" if self.name else ""

    def budget_stop(self, round_start: bool = False) -> str | None:
        cfg, st = self.cfg, self.stats
        if self.deadline is not None and self.clock() >= self.deadline:
            return "time"
        if cfg.max_lean_calls is not None and st.lean_calls >= cfg.max_lean_calls:
            return "lean_calls"
        if cfg.max_crashes is not None and st.crashes >= cfg.max_crashes:
            return "crashes"
        if round_start and cfg.max_expansions is not None and st.expansions >= cfg.max_expansions:
            return "expansions"
        return None

    def premises(self, batch: list[Node]) -> list[list[Premise]] | None:
        if self.retriever is None:
            return None
        t = self.clock()
        out: list[list[Premise]] = []
        for n in batch:
            ps = n.extra.get("premises")
            if ps is None:
                ps = list(self.retriever.retrieve(n.pp, self.theorem, self.premises_k))
                n.extra["premises"] = ps
            out.append(ps)
        self.stats.retrieval_time += self.clock() - t
        return out

    def expand(self, batch: list[Node], progress: ProgressFn | None) -> str | None:
        st = self.stats
        premises = self.premises(batch)
        t = self.clock()
        states = [n.pp for n in batch]
        contexts = [
            StepContext(self.name, tuple(e.tactic for e in self.graph.best_path(n)), self.seed) for n in batch
        ]
        cands = self.generator.generate(states, premises, self.s.num_tactics, contexts=contexts)
        st.generate_time += self.clock() - t
        st.generate_calls += 1
        if len(cands) != len(batch):
            raise RuntimeError(f"generator returned {len(cands)} candidate lists for {len(batch)} states")
        new_nodes: list[Node] = []
        stop: str | None = None
        for node, cs in zip(batch, cands, strict=True):
            st.expansions += 1
            st.candidates += len(cs)
            stop = self.run_tactics(node, cs, new_nodes)
            if stop is None or stop == "proved":  # a budget stop left candidates untried: not "failed"
                self.graph.mark_expanded(node, self.clock() - self.t0)
            if stop is not None:
                break
            if progress is not None:
                st.nodes = len(self.graph.nodes) - 1
                st.edges = len(self.graph.edges)
                st.frontier = len(self.frontier) + len(new_nodes)
                st.elapsed = self.clock() - self.t0
                progress(st.copy())
        if new_nodes and stop is None:
            self.frontier.add(new_nodes)
        st.nodes = len(self.graph.nodes) - 1
        st.edges = len(self.graph.edges)
        return stop

    def run_tactics(self, node: Node, cands: Sequence[Candidate], new_nodes: list[Node]) -> str | None:
        st, graph, cfg = self.stats, self.graph, self.cfg
        seen: set[str] = set()
        banned = self.s._banned
        for rank, c in enumerate(cands):
            tac = normalize_tactic(c.tactic)
            if not tac or tac in seen or tac in banned:
                st.skipped += 1
                continue
            seen.add(tac)
            t = self.clock()
            timeout = self.s.tactic_timeout
            if self.deadline is not None:
                left = self.deadline - t
                if left <= 0 or left < cfg.min_tactic_time:
                    return "time"
                if timeout is None or left < timeout:
                    timeout = left
            if cfg.max_lean_calls is not None and st.lean_calls >= cfg.max_lean_calls:
                return "lean_calls"
            if cfg.max_crashes is not None and st.crashes >= cfg.max_crashes:
                return "crashes"
            state: TacticState | None = None
            error: str | None = None
            try:
                res = self.env.run_tactic(node.state, tac, timeout=timeout)  # type: ignore[arg-type]
                if isinstance(res, TacticState):
                    kind, state = "ok", res
                elif isinstance(res, ProofFinished):
                    kind = "proved"
                elif isinstance(res, LeanError):
                    kind, error = "error", res.error
                    st.errors += 1
                else:  # pragma: no cover - protocol violation
                    raise TypeError(f"run_tactic returned {type(res).__name__}")
            except LeanTimeout as e:
                kind, error = "timeout", str(e) or "timeout"
                st.timeouts += 1
            except LeanCrashed as e:
                kind, error = "crash", str(e) or "crash"
                st.crashes += 1
                # one short line per event (it prints above a live progress bar); the REPL's stderr with -v
                first = " ".join(str(e).split("\n", 1)[0].split())
                log.warning("Lean crashed on tactic %r%s: %s", tac[:60], self._of_theorem, first[:160])
                log.info("Lean crash details: %s", e)
            now = self.clock()
            st.lean_calls += 1
            st.lean_time += now - t
            score = c.mean_logprob if self.use_mean else c.logprob
            if not math.isfinite(score):
                score = -1e9
            edge, target, is_new = graph.add_edge(
                node,
                tac,
                kind,  # type: ignore[arg-type]
                state,
                logprob=c.logprob,
                mean_logprob=c.mean_logprob,
                num_tokens=c.num_tokens,
                score=score,
                time=now - t,
                error=error,
                rank=rank,
                now=now - self.t0,
            )
            if is_new:
                assert target is not None
                new_nodes.append(target)
                if target.depth > st.max_depth:
                    st.max_depth = target.depth
            elif kind == "ok":
                st.duplicates += 1
                if edge.cycle:
                    st.cycles += 1
                elif target is not None and not target.expanded:
                    shorter = target.depth < target.extra.get("depth_limited", target.depth)
                    if target.best_parent is edge or shorter:
                        target.extra.pop("depth_limited", None)
                        self.frontier.update(target)
            if graph.proved:
                path = graph.proof_path()
                assert path is not None
                if self.accept is None or self.accept(path):
                    return "proved"
                graph.mark_unsound(path[-1])
                st.gate_rejections += 1
                if st.gate_rejections >= cfg.max_gate_rejections:
                    return "unsound"
        return None
