"""Sorrifier localisation rate and time per attempt over every recorded failing attempt (real Lean errors on
real LLM proofs, ``$PROVER_SHARED_DIR/fixtures/lean_errors/pairs.jsonl``), and the refiner's time.

    python benchmarks/bench_sorrify.py [--repeat 5]

Localisation: an error is *localised* when one sorrify step maps it to a node of the proof tree and edits
that node (the error lies in what became ``sorry`` / was removed, or at the opener of a block that got its
``sorry``); *deferred* when it is an ``unsolved goals`` artefact of a parse error in the same declaration;
*unlocalised* when no node was found; attempts whose statement has an error are *given up*. Times are the
median over ``--repeat`` runs of the pure step (no Lean), per attempt, each run from scratch (no cached
masking).
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
from repair.refine import refine  # noqa: E402
from repair.sorrify import sorrify_step  # noqa: E402
from repair.tree import parse, scanned  # noqa: E402


def cold() -> None:
    """Forget the cached masked texts, so each timed run reads the text from scratch."""
    scanned.cache_clear()


def timed(repeat: int, fn: Any, *args: Any) -> float:
    """Median wall time of ``fn(*args)`` over ``repeat`` cold runs."""
    runs = []
    for _ in range(repeat):
        cold()
        t0 = time.perf_counter()
        fn(*args)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    shared = Path(os.environ.get("PROVER_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
    rows = load_recorded_attempts(shared / "fixtures" / "lean_errors" / "pairs.jsonl")
    failing = [r for r in rows if r.verdict == "fail" and r.errors]
    by_repo = Counter(r.repo for r in failing)
    outcome: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    attempts: Counter[str] = Counter()
    t_sorrify: list[float] = []
    t_refine: list[float] = []
    t_parse: list[float] = []
    for r in failing:
        st = sorrify_step(r.code, r.messages)
        if st.gave_up:
            attempts["given up (error in the statement)"] += 1
            outcome["in a given-up attempt"] += len(r.errors)
            continue
        attempts["sorrified"] += 1
        handled = {id(h.message) for h in st.handled}
        deferred = {id(m) for m, _ in st.deferred}
        for m in r.errors:
            if id(m) in handled:
                outcome["localised"] += 1
            elif id(m) in deferred:
                outcome["deferred (parse-error artefact)"] += 1
            else:
                outcome["unlocalised"] += 1
        for h in st.handled:
            rules[h.rule] += 1
        t_sorrify.append(timed(args.repeat, sorrify_step, r.code, r.messages))
        t_refine.append(timed(args.repeat, refine, r.code))
        t_parse.append(timed(args.repeat, parse, r.code))
    total = sum(outcome.values())
    print(f"failing attempts with recorded errors: {len(failing)}  ({dict(by_repo)})")
    print(f"attempts: {dict(attempts)}")
    print(f"errors: {total}")
    for k, v in outcome.most_common():
        print(f"  {k:40s} {v:4d}  {v / total:6.1%}")
    located = outcome["localised"] + outcome["deferred (parse-error artefact)"]
    considered = total - outcome["in a given-up attempt"]
    print(f"localisation rate (localised or deferred, of errors in attempts not given up): {located / considered:.1%}")
    print("edits by rule:")
    for k, v in rules.most_common():
        print(f"  {k:55s} {v:4d}")

    def ms(xs: list[float]) -> str:
        xs = sorted(xs)
        p90 = xs[int(0.9 * (len(xs) - 1))]
        return f"median {statistics.median(xs) * 1e3:.2f} ms, p90 {p90 * 1e3:.2f} ms, max {xs[-1] * 1e3:.2f} ms"

    print(f"time per attempt, sorrify step (tree + edits): {ms(t_sorrify)}")
    print(f"time per attempt, refiner (all rules):         {ms(t_refine)}")
    print(f"time per attempt, tree only:                   {ms(t_parse)}")


if __name__ == "__main__":
    main()
