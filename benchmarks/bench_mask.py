"""Sketch masking (DSP+'s rules) beside the repair sorrifier (APOLLO's) on every recorded failing attempt (real
Lean errors on real LLM proofs, ``$PROVER_SHARED_DIR/fixtures/lean_errors/pairs.jsonl``): one step each.

    python benchmarks/bench_mask.py [--repeat 5]

Per step: which rule handled each error, how much of the proof's code survives (non-blank lines of the
target's proof that are neither commented out nor removed nor replaced, relative to before), and the time (median
of ``--repeat`` cold runs, no Lean). Masking drops a failing step's later siblings and comments out failing
top-level steps, so it keeps less of a text than the sorrifier; that is the price of needing no analysis of what
the later steps depend on (DSP+'s sketches are then re-proved from their placeholders, not repaired).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.lean_errors import load_recorded_attempts  # noqa: E402
from repair.mask import mask_step  # noqa: E402
from repair.sorrify import sorrify_step  # noqa: E402
from repair.tree import scanned  # noqa: E402


def timed(repeat: int, fn: Any, *args: Any) -> tuple[float, Any]:
    runs, out = [], None
    for _ in range(repeat):
        scanned.cache_clear()
        t0 = time.perf_counter()
        out = fn(*args)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), out


def code_lines(text: str) -> int:
    """Non-blank lines that are not comments (a masked step is commented out)."""
    return sum(1 for ln in text.split("\n") if ln.strip() and not ln.strip().startswith("--"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    shared = Path(os.environ.get("PROVER_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
    rows = load_recorded_attempts(shared / "fixtures" / "lean_errors" / "pairs.jsonl")
    failing = [r for r in rows if r.verdict == "fail" and r.errors]
    rules: Counter[str] = Counter()
    kept = {"mask": [], "sorrify": []}
    times = {"mask": [], "sorrify": []}
    gave_up = Counter()
    for r in failing:
        before = code_lines(r.code)
        tm, st = timed(args.repeat, mask_step, r.code, r.messages)
        ts, so = timed(args.repeat, sorrify_step, r.code, r.messages)
        times["mask"].append(tm)
        times["sorrify"].append(ts)
        if st.gave_up or so.gave_up:
            gave_up["mask" if st.gave_up else "sorrify"] += 1
            continue
        rules.update(h.rule for h in st.handled)
        kept["mask"].append(code_lines(st.text) / max(1, before))
        kept["sorrify"].append(code_lines(so.text) / max(1, before))
    n_err = sum(rules.values())
    print(f"{len(failing)} failing attempts, {n_err} errors handled by one masking step; gave up: {dict(gave_up)}")
    for rule, k in rules.most_common():
        print(f"  {k:4d} ({k / max(1, n_err):5.1%})  {rule}")
    for name in ("mask", "sorrify"):
        ms = [t * 1000 for t in times[name]]
        print(f"{name:8s} code lines kept: median {statistics.median(kept[name]):.0%}, mean "
              f"{statistics.mean(kept[name]):.0%}; time per step: median {statistics.median(ms):.2f} ms, "
              f"p90 {sorted(ms)[int(0.9 * len(ms))]:.2f} ms, max {max(ms):.2f} ms")
    ratio = statistics.median(times["mask"]) / statistics.median(times["sorrify"])
    print(f"mask / sorrify median time: {ratio:.2f}x; lines kept (mean): "
          f"{statistics.mean(kept['mask']) / statistics.mean(kept['sorrify']):.2f}x")


if __name__ == "__main__":
    main()
