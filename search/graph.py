"""The proof search graph: nodes are Lean states, edges are tactics.

* Nodes are deduplicated by Lean's pretty-printed goals (`TacticState.pp`): two tactics that reach the
  same goals reach the same node, so the graph is a directed graph, not a tree (a state can have several
  parents; a tactic can even lead back to an earlier state). All ``ProofFinished`` results go to one
  terminal node, `SearchGraph.done`.
* Every tactic Lean ran is kept as an edge, including failures: ``kind`` is ``"ok"`` (to a state),
  ``"proved"`` (to the terminal), ``"error"`` (Lean rejected it), ``"timeout"`` / ``"crash"`` (the
  Lean layer raised `LeanTimeout` / `LeanCrashed`) or ``"unsound"`` (it closed the proof but the whole
  proof failed the soundness gate). Failed edges are training data (negative examples).
* An edge whose target is the source itself or a state on the source's best path from the root is a
  *cycle* edge (``cycle``): it is kept but never re-queues its target and does not keep the source alive
  (a failed-status test). Only the best path is searched, so that a duplicate costs O(depth), not O(graph).
* Status: a node is ``proved`` when one of its edges reaches a proved node (the terminal is proved),
  ``failed`` when it was expanded and every edge is dead (failed, cycle, or to a failed node), else
  ``open``. Both propagate to ancestors as soon as they change. A proved node keeps the edge of its
  shortest known proof (``proof_edge``), so `proof_path` returns a shortest proof found.

Export: `SearchGraph.to_json` / `from_json` (a plain dict, stable field names) and `to_networkx`.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from prover.lean.types import TacticState
from retrieval.base import Premise

NodeStatus = Literal["open", "proved", "failed"]
EdgeKind = Literal["ok", "proved", "error", "timeout", "crash", "unsound"]
DEAD_KINDS = frozenset({"error", "timeout", "crash", "unsound"})

FORMAT_VERSION = 1


@dataclass(eq=False, slots=True)
class Edge:
    id: int
    src: Node
    tactic: str
    kind: EdgeKind
    dst: Node | None = None  # None for error / timeout / crash edges
    logprob: float = 0.0  # sum over the tactic's tokens
    mean_logprob: float = 0.0  # per-token mean
    num_tokens: int = 0
    score: float = 0.0  # what the policy perspective adds along a path (logprob or mean_logprob)
    time: float = 0.0  # wall seconds of the Lean call
    error: str | None = None
    cycle: bool = False
    rank: int = 0  # position of the candidate in the generator's list
    created: float = 0.0  # seconds since the search started

    @property
    def dead(self) -> bool:
        return self.kind in DEAD_KINDS or self.cycle or (self.dst is not None and self.dst.status == "failed")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "src": self.src.id,
            "dst": self.dst.id if self.dst is not None else None,
            "tactic": self.tactic,
            "kind": self.kind,
            "logprob": self.logprob,
            "mean_logprob": self.mean_logprob,
            "num_tokens": self.num_tokens,
            "score": self.score,
            "time": round(self.time, 6),
            "error": self.error,
            "cycle": self.cycle,
            "rank": self.rank,
            "created": round(self.created, 6),
        }


@dataclass(eq=False, slots=True)
class Node:
    id: int
    pp: str
    state: TacticState | None  # None for the terminal and for graphs loaded from JSON
    depth: int  # fewest tactics from the root
    goals: tuple[str, ...] = ()
    status: NodeStatus = "open"
    expanded: bool = False
    in_edges: list[Edge] = field(default_factory=list)
    out_edges: list[Edge] = field(default_factory=list)
    # Policy score of the best path found to this node (sum of edge scores) and that path's length.
    path_score: float = 0.0
    path_len: int = 0
    best_parent: Edge | None = None
    critic: float | None = None
    proof_edge: Edge | None = None
    proof_len: float = math.inf
    created: float = 0.0
    expanded_at: float | None = None
    version: int = 0  # bumped when the node's priority changes (lazy heap deletion)
    extra: dict[str, Any] = field(default_factory=dict)  # per-algorithm data (heuristic features, ...)

    @property
    def num_goals(self) -> int:
        return len(self.goals)

    @property
    def is_terminal(self) -> bool:
        return self.id == SearchGraph.DONE_ID

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pp": self.pp,
            "goals": list(self.goals),
            "state_id": self.state.id if self.state is not None else self.extra.get("state_id"),
            "depth": self.depth,
            "status": self.status,
            "expanded": self.expanded,
            "path_score": self.path_score,
            "path_len": self.path_len,
            "critic": self.critic,
            "proof_len": None if math.isinf(self.proof_len) else int(self.proof_len),
            "proof_edge": self.proof_edge.id if self.proof_edge is not None else None,
            "created": round(self.created, 6),
            "expanded_at": None if self.expanded_at is None else round(self.expanded_at, 6),
            # The premises the generator was shown for this state (training data renders the same prompt).
            **({"premises": [asdict(p) for p in self.extra["premises"]]} if self.extra.get("premises") else {}),
        }


class SearchGraph:
    """Nodes (Lean states), edges (tactics), status propagation, proof extraction, export."""

    ROOT_ID = 0
    DONE_ID = 1
    DONE_PP = "no goals"

    def __init__(self, root: TacticState, *, theorem: str | None = None) -> None:
        self.theorem = theorem
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.by_pp: dict[str, Node] = {}
        self.stop_reason: str | None = None
        self.meta: dict[str, Any] = {}
        self.root = self._new_node(root.pp, root, 0, tuple(root.goals), 0.0)
        self.done = Node(id=self.DONE_ID, pp=self.DONE_PP, state=None, depth=0, status="proved", proof_len=0)
        self.nodes.append(self.done)
        self.by_pp[root.pp] = self.root

    # ---------------------------------------------------------------------------------------------
    # Building

    def _new_node(self, pp: str, state: TacticState | None, depth: int, goals: tuple[str, ...], t: float) -> Node:
        node = Node(id=len(self.nodes), pp=pp, state=state, depth=depth, goals=goals, created=t)
        self.nodes.append(node)
        return node

    @property
    def proved(self) -> bool:
        return self.root.status == "proved"

    def add_edge(
        self,
        src: Node,
        tactic: str,
        kind: EdgeKind,
        state: TacticState | None = None,
        *,
        logprob: float = 0.0,
        mean_logprob: float = 0.0,
        num_tokens: int = 0,
        score: float = 0.0,
        time: float = 0.0,
        error: str | None = None,
        rank: int = 0,
        now: float = 0.0,
    ) -> tuple[Edge, Node | None, bool]:
        """Record one tactic run from ``src``. Returns ``(edge, target, is_new_target)``.

        ``kind == "ok"`` needs ``state`` (the resulting goals). A target that already exists is reused;
        if the new path to it is better for the policy, its ``path_score`` / ``best_parent`` are updated
        and its ``version`` is bumped (callers re-queue it). ``depth`` keeps the minimum.
        """
        edge = Edge(
            id=len(self.edges),
            src=src,
            tactic=tactic,
            kind=kind,
            logprob=logprob,
            mean_logprob=mean_logprob,
            num_tokens=num_tokens,
            score=score,
            time=time,
            error=error,
            rank=rank,
            created=now,
        )
        self.edges.append(edge)
        src.out_edges.append(edge)
        target: Node | None = None
        is_new = False
        if kind == "ok":
            assert state is not None, "an ok edge needs the resulting state"
            target = self.by_pp.get(state.pp)
            if target is None:
                target = self._new_node(state.pp, state, src.depth + 1, tuple(state.goals), now)
                self.by_pp[state.pp] = target
                target.path_score = src.path_score + score
                target.path_len = src.path_len + 1
                target.best_parent = edge
                is_new = True
            else:
                if target is src or self._is_ancestor(target, src):
                    edge.cycle = True
                else:
                    target.depth = min(target.depth, src.depth + 1)
                    new_score = src.path_score + score
                    if new_score > target.path_score:
                        target.path_score = new_score
                        target.path_len = src.path_len + 1
                        target.best_parent = edge
                        target.version += 1
        elif kind == "proved":
            target = self.done
        edge.dst = target
        if target is not None:
            target.in_edges.append(edge)
        # Status propagation.
        if target is not None and target.status == "proved":
            self._propagate_proved(edge)
        elif src.expanded and edge.dead:
            self._propagate_failed(src)
        return edge, target, is_new

    def mark_expanded(self, node: Node, now: float = 0.0) -> None:
        node.expanded = True
        node.expanded_at = now
        self._propagate_failed(node)

    def mark_unsound(self, edge: Edge) -> None:
        """The proof through ``edge`` (an edge into the terminal) failed the soundness gate."""
        if edge.dst is self.done:
            self.done.in_edges.remove(edge)
        edge.kind = "unsound"
        edge.dst = None
        self.recompute_status()

    def _is_ancestor(self, a: Node, b: Node) -> bool:
        """Is ``a`` on ``b``'s best path from the root (the path through which the search reached it)?

        Deliberately not a full reachability test: in a DAG with many merged states that is O(graph) per
        duplicate and made the search quadratic. A tactic that returns to a state on the path it came by
        (``rw [h]`` then ``rw [← h]``) is what a cycle looks like in practice. A node without out-edges
        cannot be anyone's ancestor."""
        if not a.out_edges:
            return False
        e = b.best_parent
        while e is not None:
            if e.src is a:
                return True
            e = e.src.best_parent
        return False

    def _propagate_proved(self, edge: Edge) -> None:
        work = [edge]
        while work:
            e = work.pop()
            src, dst = e.src, e.dst
            assert dst is not None
            if dst.proof_len + 1 < src.proof_len:
                src.proof_len = dst.proof_len + 1
                src.proof_edge = e
                src.status = "proved"
                work.extend(p for p in src.in_edges if p.kind in ("ok", "proved"))

    def _propagate_failed(self, node: Node) -> None:
        work = [node]
        while work:
            n = work.pop()
            if n.status != "open" or not n.expanded:
                continue
            if all(e.dead for e in n.out_edges):
                n.status = "failed"
                work.extend(e.src for e in n.in_edges)

    def recompute_status(self) -> None:
        """Recompute every node's status from scratch (after an edge changed kind)."""
        for n in self.nodes:
            if n is not self.done:
                n.status, n.proof_edge, n.proof_len = "open", None, math.inf
        for e in list(self.done.in_edges):
            self._propagate_proved(e)
        changed = True
        while changed:
            changed = False
            for n in self.nodes:
                if n.status == "open" and n.expanded and all(e.dead for e in n.out_edges):
                    n.status = "failed"
                    changed = True

    # ---------------------------------------------------------------------------------------------
    # Reading

    def proof_path(self, start: Node | None = None) -> list[Edge] | None:
        """Edges of a shortest proof found from ``start`` (default: the root) to the terminal."""
        node = self.root if start is None else start
        if node.status != "proved":
            return None
        path: list[Edge] = []
        while node is not self.done:
            e = node.proof_edge
            assert e is not None and e.dst is not None
            path.append(e)
            node = e.dst
        return path

    def proof_tactics(self) -> list[str] | None:
        path = self.proof_path()
        return None if path is None else [e.tactic for e in path]

    def best_path(self, node: Node) -> list[Edge]:
        """The best-policy-score path from the root to ``node``."""
        path: list[Edge] = []
        while node.best_parent is not None:
            path.append(node.best_parent)
            node = node.best_parent.src
        path.reverse()
        return path

    def state_nodes(self) -> Iterator[Node]:
        return (n for n in self.nodes if n is not self.done)

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for e in self.edges:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        status: dict[str, int] = {}
        for n in self.state_nodes():
            status[n.status] = status.get(n.status, 0) + 1
        return {
            "nodes": len(self.nodes) - 1,
            "edges": len(self.edges),
            "expanded": sum(1 for n in self.state_nodes() if n.expanded),
            "cycle_edges": sum(1 for e in self.edges if e.cycle),
            **{f"edges_{k}": v for k, v in sorted(kinds.items())},
            **{f"nodes_{k}": v for k, v in sorted(status.items())},
        }

    # ---------------------------------------------------------------------------------------------
    # Export

    def to_json(self) -> dict[str, Any]:
        path = self.proof_path()
        return {
            "format": "prover-search-graph",
            "version": FORMAT_VERSION,
            "theorem": self.theorem,
            "root": self.root.id,
            "done": self.done.id,
            "proved": self.proved,
            "stop_reason": self.stop_reason,
            "proof": None if path is None else [e.id for e in path],
            "counts": self.counts(),
            "meta": self.meta,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    def save(self, path: str | Path) -> None:
        """Write `to_json`; gzip-compressed when ``path`` ends in ``.gz``."""
        path = Path(path)
        if path.suffix == ".gz":
            with gzip.open(path, "wt", encoding="utf-8") as f:
                json.dump(self.to_json(), f, ensure_ascii=False)
        else:
            path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchGraph:
        """Rebuild a graph (without live `TacticState` handles) from `to_json` output."""
        if data.get("format") != "prover-search-graph":
            raise ValueError("not a prover search graph")
        nodes_js = sorted(data["nodes"], key=lambda n: n["id"])
        root_js = nodes_js[data["root"]]
        g = cls.__new__(cls)
        g.theorem = data.get("theorem")
        g.nodes, g.edges, g.by_pp = [], [], {}
        g.stop_reason = data.get("stop_reason")
        g.meta = dict(data.get("meta") or {})
        for nj in nodes_js:
            n = Node(
                id=nj["id"],
                pp=nj["pp"],
                state=None,
                depth=nj["depth"],
                goals=tuple(nj.get("goals", ())),
                status=nj["status"],
                expanded=nj["expanded"],
                path_score=nj.get("path_score", 0.0),
                path_len=nj.get("path_len", 0),
                critic=nj.get("critic"),
                proof_len=math.inf if nj.get("proof_len") is None else nj["proof_len"],
                created=nj.get("created", 0.0),
                expanded_at=nj.get("expanded_at"),
            )
            if nj.get("state_id") is not None:
                n.extra["state_id"] = nj["state_id"]
            if nj.get("premises"):
                n.extra["premises"] = [Premise(**p) for p in nj["premises"]]
            g.nodes.append(n)
            if n.id != cls.DONE_ID:
                g.by_pp[n.pp] = n
        g.root, g.done = g.nodes[root_js["id"]], g.nodes[data["done"]]
        for ej in sorted(data["edges"], key=lambda e: e["id"]):
            src = g.nodes[ej["src"]]
            dst = g.nodes[ej["dst"]] if ej["dst"] is not None else None
            e = Edge(
                id=ej["id"],
                src=src,
                tactic=ej["tactic"],
                kind=ej["kind"],
                dst=dst,
                logprob=ej.get("logprob", 0.0),
                mean_logprob=ej.get("mean_logprob", 0.0),
                num_tokens=ej.get("num_tokens", 0),
                score=ej.get("score", 0.0),
                time=ej.get("time", 0.0),
                error=ej.get("error"),
                cycle=ej.get("cycle", False),
                rank=ej.get("rank", 0),
                created=ej.get("created", 0.0),
            )
            g.edges.append(e)
            src.out_edges.append(e)
            if dst is not None:
                dst.in_edges.append(e)
        for nj in nodes_js:
            n = g.nodes[nj["id"]]
            if nj.get("proof_edge") is not None:
                n.proof_edge = g.edges[nj["proof_edge"]]
        for n in g.nodes:
            for e in n.in_edges:
                if n.path_len == e.src.path_len + 1 and math.isclose(n.path_score, e.src.path_score + e.score):
                    n.best_parent = e
                    break
        return g

    @classmethod
    def load(cls, path: str | Path) -> SearchGraph:
        """Read a file written by `save` (plain or ``.gz``)."""
        path = Path(path)
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return cls.from_json(json.load(f))
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def to_networkx(self) -> Any:
        """A `networkx.MultiDiGraph`: state nodes by id (attribute ``kind="state"``), the terminal
        (``kind="done"``), and one sink node ``"x<edge id>"`` (``kind`` = the edge kind) per failed edge,
        so that error / timeout edges stay visible to graph algorithms. Edge key = edge id."""
        import networkx as nx

        g = nx.MultiDiGraph(theorem=self.theorem, proved=self.proved, stop_reason=self.stop_reason)
        for n in self.nodes:
            attrs = n.to_json()
            attrs.pop("id")
            g.add_node(n.id, kind="done" if n is self.done else "state", **attrs)
        for e in self.edges:
            attrs = e.to_json()
            for k in ("id", "src", "dst"):
                attrs.pop(k)
            if e.dst is not None:
                g.add_edge(e.src.id, e.dst.id, key=e.id, **attrs)
            else:
                sink = f"x{e.id}"
                g.add_node(sink, kind=e.kind)
                g.add_edge(e.src.id, sink, key=e.id, **attrs)
        return g
