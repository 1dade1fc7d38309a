"""The mutation pipeline's machinery on the REPL protocol double: Lean calls per verified mutant and throughput.

    python benchmarks/bench_mutate_pipeline.py [--theorems 40] [--step-latency 0.02] [--workers 1 2] [--json OUT]

A synthetic library of ``--theorems`` theorems in ``--files`` files, each like the tests' ``Demo.foo`` (one goal
rewrite, one hypothesis rewrite and one ``apply`` mutant, plus attempts Lean rejects), run through
``MutationRun`` with the real places, prefilter, gate, store and outputs; the double answers every request after
sleeping ``--step-latency`` seconds (a stand-in for Lean's work). Reports, per worker count: theorems per second,
requests per second to the REPL pool, Lean requests per theorem and per verified mutant (discovery, gate checks,
``allTactics`` and the file contexts together), and the share of requests each stage takes.

These measure the pipeline around Lean, not Lean: the double answers from a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from mutate_fixtures import demo_script, double_command, write_script  # noqa: E402

from data.mutate.premises import PremiseSource  # noqa: E402
from data.mutate.runner import MutationRun  # noqa: E402
from data.mutate.store import MutationStore  # noqa: E402
from prover.config import load_config  # noqa: E402
from retrieval.corpus import Corpus  # noqa: E402

LEMMAS = """theorem add_zero' (a : Nat) : a + 0 = a := by simp

theorem mul_one' (a : Nat) : a * 1 = a := by simp

theorem eq_of_sub (a b : Nat) (h : a - 0 = b) : a + 0 = b := by omega
"""


def library(root: Path, theorems: int, files: int) -> None:
    (root / "Demo").mkdir(parents=True, exist_ok=True)
    (root / "Demo" / "Lemmas.lean").write_text(f"import Demo.Prelude\n\nnamespace Demo\n\n{LEMMAS}\nend Demo\n")
    per = -(-theorems // files)
    k = 0
    for f in range(files):
        body = ["import Demo.Lemmas\n\nnamespace Demo\n"]
        for _ in range(min(per, theorems - k)):
            body.append(f"theorem foo{k} (a b : Nat) (h : a + 0 = b) : b * 1 = a := by omega\n")
            k += 1
        body.append("end Demo\n")
        (root / "Demo" / f"F{f}.lean").write_text("\n".join(body))


def run(n: int, files: int, workers: int, latency: float, tmp: Path) -> dict:
    root = tmp / f"src-{workers}"
    library(root, n, files)
    script = demo_script()
    script["theorems"].update({f"foo{k}": script["theorems"]["foo"] for k in range(n)})
    for table in script["tactics"].values():
        for entry in table.values():
            entry["sleep"] = latency
    sp = write_script(tmp, script, f"s{workers}.json")
    cfg = load_config(None, {"lean.repl_command": double_command(sp), "lean.timeout": 60.0,
                             "lean.memory_limit_mb": None, "mutate.workers": workers})
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    prefilter = PremiseSource.build(corpus)
    out = tmp / f"out-{workers}"
    t0 = time.perf_counter()
    s = MutationRun(cfg, root, out, prefilter, files=["Demo/F*.lean"], progress=False, argv=["bench"]).run()
    wall = time.perf_counter() - t0
    with MutationStore.in_dir(out) as store:
        verified = len(store.mutants("verified"))
        found = len(store.mutants())
        discovery = sum(int(c["lean_calls"] or 0) for c in store.candidates())
        checks = sum(int(m["lean_calls"] or 0) for m in store.mutants())
        tried = sum(sum(json.loads(c["discovery"])["tried"].values()) for c in store.candidates() if c["discovery"])
    assert s.fatal is None and verified == 3 * n, (s, verified)
    return {
        "workers": workers,
        "theorems": n,
        "seconds": wall,
        "theorems_per_second": n / wall,
        "requests": s.requests,
        "requests_per_second": s.requests / wall,
        "requests_per_theorem": s.requests / n,
        "mutants": found,
        "verified": verified,
        "requests_per_verified": s.requests / max(1, verified),
        "share_verification": checks / max(1, discovery),
        "attempts_per_theorem": tried / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--theorems", type=int, default=40)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--step-latency", type=float, default=0.02)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for w in args.workers:
            rows.append(run(args.theorems, args.files, w, args.step_latency, Path(d)))
    base = rows[0]["theorems_per_second"]
    print(f"{args.theorems} theorems in {args.files} files, double step latency {args.step_latency}s")
    print(f"{'workers':>7} {'thm/s':>7} {'req/s':>7} {'req/thm':>8} {'attempts/thm':>12} {'req/verified':>12} "
          f"{'verif. share':>12} {'speed-up':>8}")
    for r in rows:
        print(f"{r['workers']:>7} {r['theorems_per_second']:>7.2f} {r['requests_per_second']:>7.1f} "
              f"{r['requests_per_theorem']:>8.1f} {r['attempts_per_theorem']:>12.1f} "
              f"{r['requests_per_verified']:>12.2f} {r['share_verification']:>12.0%} "
              f"{r['theorems_per_second'] / base:>8.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
