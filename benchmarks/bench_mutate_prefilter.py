"""The mutation prefilter on the real Mathlib corpus: recall of the rewrite rules Mathlib's own proofs use, and
the share of all (theorem, premise) pairs it sends to Lean.

    python benchmarks/bench_mutate_prefilter.py [--source ARCHIVE] [--limit 5000] [--ks 8 16 32 64 128 256]
                                                 [--json OUT]

Gold pairs: for each theorem, the theorems named inside ``rw [...]`` / ``rwa`` / ``rewrite`` / ``erw`` /
``nth_rw`` / ``simp_rw`` / ``simp only [...]`` of its proof, resolved like Lean resolves names (namespaces,
``open``, accessibility). Targets: the statement's conclusion and its hypothesis binders, read from source text
(no Lean here). For each theorem only the premises accessible at its place count (the denominator of the
fraction is the number of accessible theorems, summed over theorems). Variants side by side:

* ``all matching``: every side whose keys all occur in a target, no ranking (what a pure structural filter sends);
* ``structural``: ranked by the structural score, best k per target;
* ``+ usage prior``: plus log(1 + proofs rewriting with the premise), counted on the other half of the files
  (split by path hash), so a theorem's own proof never helped rank its premises;
* ``+ prior + namespaces``: plus the namespace bonus / malus (what ``prover data mutate`` uses).

For ``apply`` (no gold pairs: proofs do not say which lemma could replace a hypothesis) only the share of pairs
sent is reported, for budgets ``--apply-ks`` per hypothesis.

Recall is given over all gold pairs, over the "matchable" ones (some side's keys all occur in a target: what
``rw`` on the statement could do at all), and over the rules of a proof's first tactic (they act on the
statement). The sample (``--limit``) takes every n-th theorem in file order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from data.mutate.evaluate import Variant, build_index, collect, evaluate  # noqa: E402
from retrieval.corpus import build_corpus  # noqa: E402

SHARED = Path(os.environ.get("PROVER_SHARED_DIR", REPO.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SHARED / "corpus" / "corpus_mathlib4_2f65ba7.tar.zst")
    ap.add_argument("--limit", type=int, default=5000, help="theorems to evaluate (0: all)")
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128, 224, 256])
    ap.add_argument("--offset", type=int, default=0, help="sample offset (tune on one offset, report on another)")
    ap.add_argument("--apply-ks", type=int, nargs="*", default=[4, 8, 16], help="apply budgets per hypothesis")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--prior-weight", type=float, default=2.0)
    ap.add_argument("--namespace-weight", type=float, default=2.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    t0 = time.perf_counter()
    corpus = build_corpus([args.source], progress=False)
    t_corpus = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = build_index(corpus, alpha=args.alpha)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    bench = collect(corpus, progress=False)
    t_collect = time.perf_counter() - t0
    ks = tuple(args.ks)
    variants = [
        Variant("all matching", None),
        Variant("structural", ks),
        Variant("+ usage prior", ks, prior=True),
        Variant("+ prior + namespaces", ks, prior=True, namespace=True),
    ]
    res = evaluate(corpus, index, bench, variants, prior_weight=args.prior_weight,
                   namespace_weight=args.namespace_weight, apply_ks=args.apply_ks, limit=args.limit or None,
                   offset=args.offset)
    res.update(
        source=str(args.source),
        premises=len(corpus.premises),
        index=index.stats,
        counts=bench.counts,
        seconds={"corpus": t_corpus, "index": t_index, "collect": t_collect, "evaluate": res["seconds"]},
        settings={"alpha": args.alpha, "prior_weight": args.prior_weight, "namespace_weight": args.namespace_weight},
    )
    print(f"corpus {args.source.name}: {len(corpus.premises):,} premises; index {index.stats}")
    c = bench.counts
    print(f"gold rules in proofs: {c['rules']:,} (unresolved {c['rules_unresolved']:,}, not a theorem "
          f"{c['rules_not_theorem']:,}, private {c['rules_private']:,}) -> {c['gold_pairs']:,} gold pairs over "
          f"{c['theorems']:,} theorems")
    print(f"evaluated {res['theorems']:,} theorems: {res['gold_pairs']:,} gold pairs, {res['gold_matchable']:,} "
          f"matchable, {res['gold_first_step']:,} first-step; {res['pairs_total']:,} accessible (theorem, premise) "
          f"pairs")
    print(f"{'variant':<22} {'k':>4} {'recall':>7} {'matchable':>9} {'1st step':>8} {'fraction':>9} "
          f"{'prem/thm':>8} {'calls/thm':>9}")
    for r in res["rows"]:
        k = "-" if r["k"] is None else str(r["k"])
        print(f"{r['variant']:<22} {k:>4} {r['recall']:>7.3f} {r['recall_matchable']:>9.3f} "
              f"{r['recall_first_step']:>8.3f} {r['fraction']:>9.4%} {r['premises_per_theorem']:>8.1f} "
              f"{r['tactic_calls_per_theorem']:>9.1f}")
    for r in res["apply"]:
        print(f"apply, k={r['k']} per hypothesis: {r['fraction']:.4%} of pairs, "
              f"{r['premises_per_theorem']:.1f} premises / {r['tactic_calls_per_theorem']:.1f} calls per theorem")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items()))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
