"""Cost of the MPS heuristic features per node as the search graph grows deep.

    python benchmarks/bench_mps_heuristics.py [--sizes 1000 10000 50000] [--repeat 3] [--json]

Two implementations side by side, in the same run:

* ``walk``: the features as first written: the parent's cached features plus, for the "tactic repeated on
  the path" rule, a walk up the path comparing tactic strings: O(depth) per node.
* ``hamt``: `search.heuristics.node_features`: the path's tactics kept in a persistent map that each node
  extends (O(1) per node, log32 of the depth in the map).

1. **Features alone**: a deep graph is built (each new state hangs below one of the last 4 states, so depth
   grows with the graph: about N/2.5 at N states) and each node's features are computed when it is created,
   as the MPS frontier does. Tactics are distinct along a path (as a model's are: different arguments), so
   the walk goes up to the root. Figures: µs per node, with the cyclic GC off while timing.
2. **Whole MPS search** (policy + heuristic perspectives) on an instant environment whose policy prefers
   the deepest state, so the graph is deep: µs per expansion at each size, with either implementation
   (GC on, as in a real run).

The figure that matters is the growth from the smallest to the largest size (a ratio near 1 is O(1)).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import search.mps as mps_module  # noqa: E402
from prover.lean.types import LeanError, TacticResult, TacticState, Theorem  # noqa: E402
from prover.models.base import Candidate  # noqa: E402
from search import build_search  # noqa: E402
from search.config import MPSConfig, SearchConfig  # noqa: E402
from search.graph import Node, SearchGraph  # noqa: E402
from search.heuristics import Features, is_case_split, node_features  # noqa: E402


def walk_features(graph: SearchGraph, node: Node) -> Features:
    """The O(depth) reference: parent's features + the last edge, repeats found by walking the path."""
    root_len = max(1, len(graph.root.pp))
    e = node.best_parent
    if e is None:
        return Features(goals=node.num_goals, length=len(node.pp) / root_len, cases=0, repeats=0, depth=0)
    parent = e.src
    pf = parent.extra.get("features")
    if pf is None:
        pf = parent.extra["features"] = walk_features(graph, parent)
    repeat = 0
    a = parent.best_parent
    while a is not None:
        if a.tactic == e.tactic:
            repeat = 1
            break
        a = a.src.best_parent
    split = 1 if is_case_split(e.tactic, parent.num_goals, node.num_goals) else 0
    return Features(
        goals=node.num_goals,
        length=len(node.pp) / root_len,
        cases=pf.cases + split,
        repeats=pf.repeats + repeat,
        depth=pf.depth + 1,
    )


IMPLS = {"walk": walk_features, "hamt": node_features}


def features_alone(n: int, impl: str, seed: int = 0) -> dict:
    gc.collect()  # garbage of the previous run is not charged to this one
    gc.disable()  # the cyclic GC's passes over the growing graph are not the features' cost
    try:
        return _features_alone(n, impl, seed)
    finally:
        gc.enable()


def _features_alone(n: int, impl: str, seed: int) -> dict:
    rng = random.Random(seed)
    fn = IMPLS[impl]
    g = SearchGraph(TacticState.of_goals(["⊢ s0"], 0))
    g.root.extra["features"] = fn(g, g.root)
    nodes = [g.root]
    t_total = 0.0
    for i in range(1, n):
        parent = nodes[-1 - rng.randrange(min(4, len(nodes)))]
        _, child, _ = g.add_edge(parent, f"tac {i}", "ok", TacticState.of_goals([f"⊢ s{i}"], i))
        t = time.perf_counter()
        child.extra["features"] = fn(g, child)
        t_total += time.perf_counter() - t
        nodes.append(child)
    depth = max(nd.extra["features"].depth for nd in nodes)
    return {"nodes": n, "max_depth": depth, "us_per_node": 1e6 * t_total / (n - 1)}


class DeepEnv:
    """Instant answers: every tactic gives a new state (one in eight fails)."""

    def __init__(self) -> None:
        self.n = 0

    def start(self, theorem: Theorem) -> TacticState:
        return TacticState("⊢ s0", 0, ("⊢ s0",))

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult:
        if tactic.startswith("t0 "):
            return LeanError("unknown tactic")
        self.n += 1
        pp = f"⊢ s{self.n}"
        return TacticState(pp, self.n, (pp,))

    def check(self, theorem, proof_text):  # pragma: no cover - never proves
        raise AssertionError

    def close(self) -> None:
        pass


class DeepGen:
    """Distinct tactics per state; the first is so likely that the policy keeps going deeper."""

    def __init__(self, n: int) -> None:
        self.n = n

    def generate(self, states: Sequence[str], premises, n: int, **kw) -> list[list[Candidate]]:
        return [
            [Candidate(f"t{i} {s}", -0.001 if i == 1 else -5.0 * (i + 1), -0.001, 2) for i in range(n)] for s in states
        ]


def whole_search(expansions: int, impl: str, tactics: int = 8) -> dict:
    gc.collect()
    mps_module.node_features = IMPLS[impl]  # the frontier's only use of the features function
    try:
        cfg = SearchConfig(
            algorithm="mps",
            max_expansions=expansions,
            max_depth=None,
            time_limit=None,
            num_tactics=tactics,
            mps=MPSConfig(perspectives=["policy", "heuristic"]),
        )
        env = DeepEnv()
        thm = Theorem("bench", "theorem bench : True := by")
        search = build_search(cfg)
        t = time.perf_counter()
        res = search.search(env, env.start(thm), DeepGen(tactics), theorem=thm)
        wall = time.perf_counter() - t
    finally:
        mps_module.node_features = node_features
    depth = max(nd.depth for nd in res.graph.nodes)
    return {
        "expansions": res.stats.expansions,
        "nodes": res.stats.nodes,
        "max_depth": depth,
        "us_per_expansion": 1e6 * wall / max(1, res.stats.expansions),
    }


def best(runs: list[dict], key: str) -> dict:
    out = dict(min(runs, key=lambda r: r[key]))
    out[f"median_{key}"] = statistics.median(r[key] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--search-sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * max(args.sizes) + 1000))
    out: dict = {"features": {}, "search": {}}
    # Implementations interleaved run by run, so a noisy moment on a shared machine hits both.
    feats: dict = {(i, n): [] for i in IMPLS for n in args.sizes}
    runs: dict = {(i, n): [] for i in IMPLS for n in args.search_sizes}
    for r in range(args.repeat):
        for n in args.sizes:
            for impl in IMPLS:
                feats[impl, n].append(features_alone(n, impl, seed=r))
        for n in args.search_sizes:
            for impl in IMPLS:
                runs[impl, n].append(whole_search(n, impl))
    for impl in IMPLS:
        out["features"][impl] = [best(feats[impl, n], "us_per_node") for n in args.sizes]
        out["search"][impl] = [best(runs[impl, n], "us_per_expansion") for n in args.search_sizes]
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"best of {args.repeat} runs (python {sys.version.split()[0]})")
    print("\n1. features alone, µs per node (deep graph)")
    print(f"{'nodes':>8} {'max depth':>10} " + " ".join(f"{i:>10}" for i in IMPLS) + f" {'walk/hamt':>10}")
    for k, n in enumerate(args.sizes):
        w, h = out["features"]["walk"][k], out["features"]["hamt"][k]
        print(
            f"{n:>8} {h['max_depth']:>10} {w['us_per_node']:>10.2f} {h['us_per_node']:>10.2f} "
            f"{w['us_per_node'] / h['us_per_node']:>10.1f}"
        )
    for impl in IMPLS:
        rows = out["features"][impl]
        g = rows[-1]["us_per_node"] / rows[0]["us_per_node"]
        print(f"  {impl}: growth {args.sizes[-1]} vs {args.sizes[0]} nodes: ×{g:.2f}")
    print("\n2. whole MPS search (policy + heuristic), µs per expansion")
    print(f"{'expansions':>10} {'max depth':>10} " + " ".join(f"{i:>10}" for i in IMPLS))
    for k, n in enumerate(args.search_sizes):
        w, h = out["search"]["walk"][k], out["search"]["hamt"][k]
        print(f"{n:>10} {h['max_depth']:>10} {w['us_per_expansion']:>10.1f} {h['us_per_expansion']:>10.1f}")
    for impl in IMPLS:
        rows = out["search"][impl]
        g = rows[-1]["us_per_expansion"] / rows[0]["us_per_expansion"]
        print(f"  {impl}: growth {args.search_sizes[-1]} vs {args.search_sizes[0]} expansions: ×{g:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
