"""Search bookkeeping overhead per expansion.

    python benchmarks/bench_search_overhead.py [--expansions 2000] [--tactics 8] [--json]

1. **Zero-cost**: an in-process environment and generator that do no work (each tactic answers at once:
   one in eight fails, one in eight reaches an earlier state, the rest are new states), so the whole wall
   time is the search's own bookkeeping: the graph, dedup, status propagation, the frontier, budget checks.
   Reported for best-first and for MPS (policy + heuristic perspectives).
2. **Double**: the same search through the real `ReplEnv` and REPL transport against the REPL protocol
   double (``tests/double/repl_double.py``, a separate process speaking the REPL's JSON protocol). The
   figure that matters is the bookkeeping part (wall time minus time inside ``run_tactic`` and
   ``generate``), which should match the zero-cost figure; the total shows what the transport costs.

Figures are µs per expansion (one expansion = one state, ``--tactics`` candidates run in Lean).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.lean.types import LeanError, TacticResult, TacticState, Theorem  # noqa: E402
from prover.models.base import Candidate  # noqa: E402
from search import build_search  # noqa: E402
from search.config import MPSConfig, SearchConfig  # noqa: E402

DOUBLE = REPO / "tests" / "double" / "repl_double.py"


class ZeroEnv:
    """Answers instantly. Tactic ``t0`` fails, ``t1`` returns an earlier state (a duplicate), the others
    a new state."""

    def __init__(self) -> None:
        self.n = 0

    def start(self, theorem: Theorem) -> TacticState:
        return TacticState("⊢ s0", 0, ("⊢ s0",))

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult:
        if tactic == "t0":
            return LeanError("unknown tactic")
        if tactic == "t1":  # an earlier state: a duplicate (often an ancestor, i.e. a cycle)
            k = state.id // 2
            pp = f"⊢ s{k}"
            return TacticState(pp, k, (pp,))
        self.n += 1
        pp = f"⊢ s{self.n}"
        return TacticState(pp, self.n, (pp,))

    def check(self, theorem, proof_text):  # pragma: no cover - never proves
        raise AssertionError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class ZeroGen:
    def __init__(self, n: int) -> None:
        self.cands = [Candidate(f"t{i}", -0.1 * (i + 1), -0.05 * (i + 1), 2) for i in range(n)]

    def generate(self, states: Sequence[str], premises, n: int, *, contexts=None) -> list[list[Candidate]]:
        return [self.cands[:n] for _ in states]


def config(algorithm: str, expansions: int, tactics: int) -> SearchConfig:
    return SearchConfig(
        algorithm=algorithm,
        max_expansions=expansions,
        max_depth=None,
        time_limit=None,
        num_tactics=tactics,
        mps=MPSConfig(perspectives=["policy", "heuristic"]),
    )


def measure(env, generator, algorithm: str, expansions: int, tactics: int, theorem: Theorem) -> dict:
    search = build_search(config(algorithm, expansions, tactics))
    root = env.start(theorem)
    t = time.perf_counter()
    res = search.search(env, root, generator, theorem=theorem)
    wall = time.perf_counter() - t
    st = res.stats
    own = wall - st.lean_time - st.generate_time
    return {
        "algorithm": algorithm,
        "expansions": st.expansions,
        "lean_calls": st.lean_calls,
        "nodes": st.nodes,
        "wall_s": wall,
        "us_per_expansion": 1e6 * wall / st.expansions,
        "bookkeeping_us_per_expansion": 1e6 * own / st.expansions,
        "us_per_lean_call": 1e6 * wall / max(1, st.lean_calls),
    }


def best_of(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["wall_s"])
    best = dict(best)
    best["median_us_per_expansion"] = statistics.median(r["us_per_expansion"] for r in runs)
    return best


def double_script(n_states: int, tactics: int) -> dict:
    tac: dict = {}
    for k in range(n_states):
        row = {"t0": {"error": "unknown tactic"}, "t1": {"goals": [f"⊢ s{k // 2}"]}}
        for j in range(2, tactics):
            child = (tactics - 2) * k + j - 1
            row[f"t{j}"] = {"goals": [f"⊢ s{child}"]} if child < n_states else {"error": "out of script"}
        tac[f"⊢ s{k}"] = row
    return {
        "lean_version": "bench-double",
        "theorems": {"bench": {"goals": ["⊢ s0"]}, "_prover_gate_ref": {"goals": ["⊢ s0"]}},
        "tactics": tac,
    }


def run_double(expansions: int, tactics: int, repeat: int) -> list[dict]:
    from prover.config import load_config
    from prover.lean.repl_env import ReplEnv

    out = []
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "script.json"
        script.write_text(json.dumps(double_script(expansions * (tactics - 1) + 10, tactics)))
        cfg = load_config(
            overrides={
                "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(script)],
                "lean.project_dir": d,
                "lean.memory_limit_mb": None,
                "lean.max_requests": 10**9,
                "lean.max_rss_mb": None,
            }
        )
        thm = Theorem("bench", "theorem bench : True := by")
        for algorithm in ("best_first", "mps"):
            runs = []
            for _ in range(repeat):
                with ReplEnv(cfg.lean) as env:
                    env.start(thm)  # start the process outside the measurement
                    runs.append(measure(env, ZeroGen(tactics), algorithm, expansions, tactics, thm))
            out.append(best_of(runs))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--expansions", type=int, default=2000)
    ap.add_argument("--double-expansions", type=int, default=300)
    ap.add_argument("--tactics", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-double", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    thm = Theorem("bench", "theorem bench : True := by")
    results: dict[str, list[dict]] = {"zero_cost": []}
    for algorithm in ("best_first", "mps"):
        runs = [
            measure(ZeroEnv(), ZeroGen(args.tactics), algorithm, args.expansions, args.tactics, thm)
            for _ in range(args.repeat)
        ]
        results["zero_cost"].append(best_of(runs))
    if not args.no_double:
        if DOUBLE.is_file():
            results["double"] = run_double(args.double_expansions, args.tactics, args.repeat)
        else:
            print(f"(no REPL double at {DOUBLE}; skipped)", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.tactics} tactics per expansion; best of {args.repeat} runs (python {sys.version.split()[0]})")
    print(f"{'setting':<12} {'algorithm':<11} {'expansions':>10} {'lean calls':>10} "
          f"{'µs/expansion':>13} {'bookkeeping µs/exp':>19} {'µs/Lean call':>13}")  # fmt: skip
    for setting, rows in results.items():
        for r in rows:
            print(
                f"{setting:<12} {r['algorithm']:<11} {r['expansions']:>10} {r['lean_calls']:>10} "
                f"{r['us_per_expansion']:>13.1f} {r['bookkeeping_us_per_expansion']:>19.1f} "
                f"{r['us_per_lean_call']:>13.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
