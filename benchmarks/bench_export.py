"""Throughput of `prover data export` on a large synthetic batch run (store + saved search graphs).

    python benchmarks/bench_export.py [--theorems 1000] [--attempts 2] [--depth 6] [--width 6] [--json OUT]

Builds a run directory the way `prover batch --save-graphs` leaves it: a results store with ``--theorems`` ×
``--attempts`` rows and one gzip'd search graph per attempt (a proof of ``--depth`` steps; at every state
``--width`` candidates, failed ones included, and a dead-end branch). Then times reading + curating + writing
each kind, JSONL and Parquet side by side (ratios to JSONL). The graphs are synthetic, the code path is the real
one (`prover.train.sources.export`).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from batch_fakes import double_config  # noqa: E402

from prover.batch.runner import graph_path  # noqa: E402
from prover.batch.store import AttemptRow, ResultStore  # noqa: E402
from prover.lean.types import TacticState  # noqa: E402
from prover.train.sources import export  # noqa: E402
from search.graph import SearchGraph  # noqa: E402


def synthetic_graph(name: str, attempt: int, depth: int, width: int) -> SearchGraph:
    g = SearchGraph(TacticState.of_goals([f"x y : ℕ\nh : x < y\n⊢ {name} goal 0"], 0), theorem=name)
    node, sid = g.root, 1
    for d in range(depth):
        for w in range(width - 2):
            g.add_edge(node, f"nlinarith [sq_nonneg (x - {w}), h{d}]", "error", error="linarith failed")
        _, dead, _ = g.add_edge(node, f"simp at h{d}", "ok", TacticState.of_goals([f"⊢ {name} dead {d}"], sid))
        g.add_edge(dead, "omega", "error", error="omega could not prove the goal")
        g.mark_expanded(dead)
        sid += 1
        if d == depth - 1:
            g.add_edge(node, "linarith", "proved")
            g.mark_expanded(node)
        else:
            nxt_state = TacticState.of_goals([f"x y : ℕ\nh : x < y\n⊢ {name} goal {d + 1}"], sid)
            _, nxt, _ = g.add_edge(node, f"have h{d + 1} : x + {d} < y + {d} := by omega", "ok", nxt_state)
            sid += 1
            g.mark_expanded(node)
            node = nxt
    g.meta.update(theorem_key=name, theorem_name=name, attempt=attempt, seed=attempt, status="proved")
    return g


def build_run(run_dir: Path, n: int, attempts: int, depth: int, width: int) -> float:
    t0 = time.perf_counter()
    with ResultStore.in_run_dir(run_dir, synchronous="NORMAL") as store:
        names = [f"thm_{i:06d}" for i in range(n)]
        store.add_theorems({"key": k, "name": k, "statement": f"theorem {k} (x y : ℕ) (h : x < y) : P{k} := by"}
                           for k in names)  # fmt: skip
        for k in names:
            for a in range(attempts):
                g = synthetic_graph(k, a, depth, width)
                path = graph_path(run_dir / "graphs", k, a)
                path.parent.mkdir(parents=True, exist_ok=True)
                g.save(path)
                proof = f"theorem {k} (x y : ℕ) (h : x < y) : P{k} := by\n  " + "\n  ".join(g.proof_tactics())
                store.record(AttemptRow(theorem=k, attempt=a, status="proved", proof=proof))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--theorems", type=int, default=1000)
    ap.add_argument("--attempts", type=int, default=2)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--width", type=int, default=6)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: dict = {"machine": platform.processor() or platform.machine(), "args": vars(args) | {"json": None}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_dir = tmp / "run"
        build = build_run(run_dir, args.theorems, args.attempts, args.depth, args.width)
        graphs = args.theorems * args.attempts
        size = sum(p.stat().st_size for p in (run_dir / "graphs").rglob("*.json.gz"))
        print(f"synthetic run: {graphs} graphs ({size / 2**20:.1f} MiB gzip'd), built in {build:.1f}s")
        results["build_seconds"] = build
        for kind in ("sft", "dpo", "critic"):
            base = None
            for fmt in ("jsonl", "parquet"):
                cfg = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.file_format": fmt,
                                                          "generator.prompt_format": "internlm25"})  # fmt: skip
                t0 = time.perf_counter()
                m = export([run_dir], kind, tmp / f"{kind}-{fmt}", cfg)
                wall = time.perf_counter() - t0
                rows = m["rows"]["train"] + m["rows"]["valid"]
                base = base or wall
                read = sum(m["read"].values())
                print(f"{kind:6s} {fmt:7s}: {wall:6.2f}s  {graphs / wall:7.0f} graphs/s  {read / wall:8.0f} rows read/s"
                      f"  {rows} rows written  (x{wall / base:.2f} of jsonl)")  # fmt: skip
                results[f"{kind}_{fmt}"] = {"seconds": wall, "graphs_per_s": graphs / wall, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
