"""Premise retrieval on real Mathlib: recall@1/10/100 and MRR of BM25 and the dense retriever, and speed.

    python benchmarks/bench_retrieval.py [--corpus ../shared/corpus/corpus_mathlib4_2f65ba7.tar.zst]
        [--dense-subset 10000] [--model minilm] [--skip-dense] [--json out.json]

What is measured:

* **Corpus**: the archive is unpacked once (cached), then every ``.lean`` file is scanned and proof references
  are resolved (``--rebuild`` forces this; timed), then the saved corpus is loaded again (timed).
* **Task**: theorems/lemmas with tactic proofs in the fixed held-out split (``split_of(name) == "test"``, 2% of
  names by hash) whose proofs name at least one accessible corpus declaration. Gold = those declarations.
  Query = the statement without keyword and name (what the root goal state shows). Candidates = premises
  accessible from the theorem's position (imports + earlier in the file).
* **BM25** over the full corpus: index build time, R@k, MRR, query latency p50/p99 (tokenise + score +
  mask + top-100).
* **Dense** (encoder ``--model``; default the packaged all-MiniLM-L6-v2, zero-shot): the full corpus is too
  slow to embed on a 2-core CPU, so premises are embedded for a fixed subset — every gold premise of the test
  theorems plus a seeded random sample of the rest, ``--dense-subset`` in all (``0`` = the full corpus) — and
  both retrievers are scored on that sub-corpus (candidates and gold restricted to it). Embedding throughput
  gives the extrapolated full-corpus time. Query latency over the full corpus = query encoding + a faiss
  search over an index of full-corpus size (the subset's vectors tiled to the corpus size: search cost does not
  depend on the values) under the accessibility selector.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from retrieval.bm25 import BM25Retriever  # noqa: E402
from retrieval.corpus import Corpus, build_corpus, default_cache_dir, unpack_archive  # noqa: E402
from retrieval.evaluate import evaluate, theorem_items  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "corpus_mathlib4_2f65ba7.tar.zst"


def _fmt(d: dict) -> str:
    keys = ["theorems", "gold_premises", "R@1", "R@10", "R@100", "MRR", "p50_ms", "p99_ms"]
    return "  ".join(f"{k}={d[k]}" for k in keys if k in d)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="Lean source archive or tree")
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache (default ~/.cache/lean-prover/retrieval)")
    ap.add_argument("--rebuild", action="store_true", help="time a fresh corpus build (else reuse the cache)")
    ap.add_argument("--max-theorems", type=int, default=None, help="evaluate at most this many test theorems")
    ap.add_argument("--skip-dense", action="store_true")
    ap.add_argument("--model", default=None, help="dense encoder (default: packaged MiniLM)")
    ap.add_argument("--dense-subset", type=int, default=10000, help="premises to embed (0 = whole corpus)")
    ap.add_argument("--max-length", type=int, default=128, help="encoder tokens per premise / query")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--latency-queries", type=int, default=300, help="queries timed for dense full-size latency")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args(argv)
    cache = args.cache_dir or default_cache_dir()
    out: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                 "corpus_source": str(args.corpus)}

    # -- corpus -------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if args.corpus.is_file():
        unpack_archive(args.corpus, cache)
    t_unpack = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus = build_corpus([args.corpus], cache_dir=cache, rebuild=args.rebuild, progress=True)
    t_build = time.perf_counter() - t0
    target = cache / f"corpus-{corpus.meta['fingerprint']}"
    t0 = time.perf_counter()
    corpus = Corpus.load(target)
    t_load = time.perf_counter() - t0
    out["corpus"] = {
        "files": len(corpus.files), "premises": len(corpus), "tactic_proofs": int(corpus.tactic_proof.sum()),
        "unpack_s": round(t_unpack, 2), "build_s (this run)": round(t_build, 2),
        "build_s (scan + resolve, when built)": round(float(corpus.meta.get("build_seconds", float("nan"))), 2),
        "load_s": round(t_load, 2), "rebuilt": args.rebuild,
    }
    print(f"corpus: {len(corpus)} premises, {len(corpus.files)} files; build {corpus.meta.get('build_seconds'):.1f} s"
          f" (this run {t_build:.1f} s), load {t_load:.2f} s")

    items = theorem_items(corpus, "test")
    if args.max_theorems:
        items = items[: args.max_theorems]
    n_gold = sum(len(it.gold) for it in items)
    out["task"] = {"split": "test", "theorems": len(items), "gold_premises": n_gold,
                   "all_splits_theorems": len(theorem_items(corpus, None))}
    print(f"held-out theorems: {len(items)} with {n_gold} gold premises")

    # -- BM25 -----------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    bm = BM25Retriever.build(corpus, progress=True)
    t_bm_index = time.perf_counter() - t0
    res = evaluate(lambda q, m, k: bm.retrieve_indices(q, m, k)[0], corpus, items, progress=True)
    out["bm25_full"] = {"index_build_s": round(t_bm_index, 2), **res.as_dict()}
    print(f"BM25 (full corpus, index {t_bm_index:.1f} s): {_fmt(res.as_dict())}")

    # -- dense ------------------------------------------------------------------------------------------------
    if not args.skip_dense:
        from retrieval.dense import DenseIndex, DenseRetriever, Encoder

        enc = Encoder(args.model, max_length=args.max_length)
        n = len(corpus)
        if args.dense_subset and args.dense_subset < n:
            gold = np.unique(np.concatenate([it.gold for it in items]))
            rest = np.setdiff1d(np.arange(n), gold)
            rng = random.Random(args.seed)
            extra = np.array(sorted(rng.sample(rest.tolist(), max(0, args.dense_subset - len(gold)))), dtype=np.int64)
            ids = np.union1d(gold, extra)
        else:
            ids = np.arange(n)
        subset = np.zeros(n, dtype=bool)
        subset[ids] = True
        t0 = time.perf_counter()
        dr = DenseRetriever.build(corpus, enc, ids=ids, batch_size=args.batch_size, progress=True)
        t_dense = time.perf_counter() - t0
        t_embed = float(dr.index.meta["embed_seconds"])
        rate = len(ids) / t_embed
        res_d = evaluate(lambda q, m, k: dr.retrieve_indices(q, m, k)[0], corpus, items, restrict=subset, progress=True)
        res_b = evaluate(lambda q, m, k: bm.retrieve_indices(q, m, k)[0], corpus, items, restrict=subset)
        # full-size latency: encode the query + faiss search over n vectors with the accessibility selector
        emb = dr.index.index.reconstruct_n(0, dr.index.index.ntotal)
        tiled = np.resize(emb, (n, emb.shape[1]))
        t0 = time.perf_counter()
        full = DenseIndex.from_embeddings(tiled, np.arange(n), "flat", dict(dr.index.meta))
        t_faiss_full = time.perf_counter() - t0
        lat, lat_search = [], []
        for it in items[: args.latency_queries]:
            mask = corpus.accessible_from_file(it.file_idx, it.line)
            t1 = time.perf_counter()
            q = dr.embed_query(it.query)
            t2 = time.perf_counter()
            full.search(q, 100, mask)
            t3 = time.perf_counter()
            lat.append(t3 - t1)
            lat_search.append(t3 - t2)
        out["dense"] = {
            "model": enc.name, "max_length": args.max_length, "embedded_premises": int(len(ids)),
            "gold_premises_in_subset": int(len(np.unique(np.concatenate([it.gold for it in items])))),
            "embed_s": round(t_embed, 1), "premises_per_s": round(rate, 1),
            "extrapolated_full_corpus_embed_s": round(n / rate, 0),
            "index_build_s (subset, incl. embedding)": round(t_dense, 1),
            "faiss_flat_build_s (full size)": round(t_faiss_full, 3),
            "subset": res_d.as_dict(), "bm25_same_subset": res_b.as_dict(),
            "full_size_latency_ms": {"p50": round(1000 * float(np.percentile(lat, 50)), 2),
                                     "p99": round(1000 * float(np.percentile(lat, 99)), 2),
                                     "search_only_p50": round(1000 * float(np.percentile(lat_search, 50)), 2),
                                     "search_only_p99": round(1000 * float(np.percentile(lat_search, 99)), 2),
                                     "queries": len(lat)},
        }
        print(f"dense ({Path(enc.name).name}): embedded {len(ids)} premises in {t_embed:.0f} s ({rate:.1f}/s; "
              f"full corpus ≈ {n / rate / 60:.0f} min)")
        print(f"  dense on subset: {_fmt(res_d.as_dict())}")
        print(f"  BM25  on subset: {_fmt(res_b.as_dict())}")
        print(f"  dense latency over {n} vectors: {out['dense']['full_size_latency_ms']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
