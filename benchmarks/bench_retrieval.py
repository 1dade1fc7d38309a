"""Premise retrieval on real Mathlib: BM25, BM25 + usage prior, dense (untrained / trained), side by side.

    python benchmarks/bench_retrieval.py [--corpus A.tar.zst --corpus B.tar.zst ...] [--compfiles C.tar.zst]
        [--dense-subset 10000] [--model minilm] [--trained-model runs/retriever/final] [--skip-dense]
        [--json out.json]

What is measured (all on one machine, in one run):

* **Corpus**: Mathlib + Batteries + Aesop of 2024-06 (the versions Mathlib pinned; ``../shared/corpus``),
  scanned and name-resolved (``--rebuild`` times a fresh build), then loaded again (timed).
* **Tasks** (``retrieval.evaluate``): the held-out test split (``split_of(name) == "test"``, 2% of names by
  hash), theorem level (gold = the accessible declarations a tactic proof names, query = the statement) and
  per tactic (gold = what one tactic step names, query = statement + proof so far; a text-level proxy for
  LeanDojo's per-state figures). Candidates = premises accessible from the theorem's position.
* **Prior**: counts leave out the proofs of the test and validation theorems; its weight is chosen on the
  validation split (``split_of == "val"``), per retriever, then applied to the test split unchanged.
* **BM25** over the full corpus (index build time, R@1/10/100, MRR, query latency p50/p99).
* **Dense** (``--model``, default the packaged all-MiniLM-L6-v2 zero-shot; ``--trained-model`` a checkpoint
  of ``scripts/train_retriever.py``): a 2-core CPU cannot embed the full corpus per run, so a fixed subset is
  embedded (every gold premise of the test and validation items plus a seeded random sample, ``--dense-subset``
  in all; ``0`` = the full corpus) and BM25 is scored on the same subset beside it. Latency over the full
  corpus = query encoding + a search over an index of full-corpus size.
* **compfiles** (``--compfiles``): olympiad solutions written against the same Mathlib, an out-of-Mathlib test
  set: every theorem/lemma of ``Compfiles/`` with a tactic proof naming a corpus premise; its own proofs are
  left out of the prior's counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from retrieval.bm25 import BM25Retriever  # noqa: E402
from retrieval.corpus import Corpus, build_corpus, default_cache_dir  # noqa: E402
from retrieval.evaluate import EvalItem, evaluate, tactic_items, theorem_items  # noqa: E402
from retrieval.prior import (  # noqa: E402
    BM25_WEIGHTS,
    DENSE_WEIGHTS,
    choose_weight,
    heldout_mask,
    prior_feature,
    usage_counts,
)

SHARED = Path(os.environ.get("PROVER_SHARED_DIR", REPO.parent / "shared"))
DEFAULT_CORPORA = [SHARED / "corpus" / f"corpus_{n}.tar.zst" for n in
                   ("mathlib4_2f65ba7", "batteries_42b5ddd", "aesop_7e3bd93")]
DEFAULT_COMPFILES = SHARED / "corpus" / "corpus_compfiles_2f9ff30.tar.zst"
KEYS = ["theorems", "gold_premises", "R@1", "R@10", "R@100", "MRR", "p50_ms", "p99_ms"]


def _fmt(d: dict) -> str:
    return "  ".join(f"{k}={d[k]}" for k in KEYS if k in d)


def _run(name: str, out: dict, fn: Callable[[str, np.ndarray, int], np.ndarray], corpus: Corpus,
         tasks: dict[str, Sequence[EvalItem]], restrict: np.ndarray | None = None) -> None:
    for task, items in tasks.items():
        res = evaluate(fn, corpus, items, restrict=restrict).as_dict()
        out.setdefault(task, {})[name] = res
        print(f"  [{task}] {name:28s} {_fmt(res)}", flush=True)


def _unfolded(items: list[EvalItem], corpus: Corpus) -> tuple[list[EvalItem], int]:
    """Items whose proof text holds no column-0 line starting with a word: compfiles' own commands
    (``problem``, ``determine``, ``snip``) come from a syntax extension the scanner does not know, so the text
    after a declaration up to the next known command is read as its proof; such items would have wrong gold."""
    import re

    from retrieval.lean_source import parse_lean_source

    bodies: dict[tuple[str, int], str] = {}
    for fi in sorted({it.file_idx for it in items}):
        cf = corpus.files[fi]
        lf = parse_lean_source((Path(cf.root) / cf.path).read_text(encoding="utf-8"), cf.module, cf.path)
        bodies.update({(d.full_name, d.line): d.body for d in lf.declarations})
    col0 = re.compile(r"\n[^\W\d]")
    keep = [it for it in items if not col0.search(bodies.get((corpus.premises[it.premise_idx].full_name,
                                                                corpus.premises[it.premise_idx].line), ""))]
    return keep, len(items) - len(keep)


def _sample(items: Sequence[EvalItem], n: int) -> list[EvalItem]:
    """An even sample of at most ``n`` items (every k-th), the same in every run."""
    if n <= 0 or len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _subset(n: int, must: np.ndarray, size: int, seed: int) -> np.ndarray:
    if not size or size >= n:
        return np.arange(n)
    rest = np.setdiff1d(np.arange(n), must)
    extra = random.Random(seed).sample(rest.tolist(), max(0, size - len(must)))
    return np.union1d(must, np.array(sorted(extra), dtype=np.int64))


class EmbeddingCache:
    """Premise embeddings by premise text, so two corpora (main, + compfiles) share the work."""

    def __init__(self, encoder: Any, batch_size: int) -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self.vecs: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.embedded = 0

    def get(self, texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.vecs})
        if todo:
            t0 = time.perf_counter()
            emb = self.encoder.encode(todo, batch_size=self.batch_size, progress=True, desc="embedding premises")
            self.seconds += time.perf_counter() - t0
            self.embedded += len(todo)
            self.vecs.update(zip(todo, emb, strict=True))
        return np.stack([self.vecs[t] for t in texts])


def dense_section(label: str, model: str | None, args: argparse.Namespace, corpus: Corpus,
                  tasks: dict[str, Sequence[EvalItem]], val: Sequence[EvalItem], ids: np.ndarray,
                  prior: np.ndarray, out: dict, bm: BM25Retriever, bm_w: float,
                  compfiles: tuple[Corpus, dict[str, Sequence[EvalItem]], np.ndarray, np.ndarray] | None) -> None:
    from retrieval.dense import DenseIndex, DenseRetriever, Encoder, premise_style_for
    from retrieval.text import premise_text

    enc = Encoder(model, max_length=args.max_length)
    cache = EmbeddingCache(enc, args.batch_size)
    style = premise_style_for(enc.name)
    queries: dict[str, np.ndarray] = {}  # each query is encoded once (the same queries run with and without prior)

    def retriever(c: Corpus, sub: np.ndarray, pr: np.ndarray) -> DenseRetriever:
        emb = cache.get([premise_text(c.premises[int(i)], style) for i in sub])
        index = DenseIndex.from_embeddings(emb, sub, "flat", {"model": enc.name, "premise_style": style})
        r = DenseRetriever(c, enc, index, prior_weight=0.0, prior=pr[sub] if len(sub) < len(c) else pr)
        plain = r.embed_query

        def embed_query(text: str) -> np.ndarray:
            v = queries.get(text)
            if v is None:
                v = queries[text] = plain(text)
            return v

        r.embed_query = embed_query  # type: ignore[method-assign]
        return r

    n = len(corpus)
    subset = np.zeros(n, dtype=bool)
    subset[ids] = True
    dr = retriever(corpus, ids, prior)
    w, table = choose_weight(dr.full_scores, corpus, val, prior, DENSE_WEIGHTS)
    sec: dict[str, Any] = {"model": enc.name, "max_length": args.max_length, "embedded_premises": int(len(ids)),
                           "prior_weight": w, "val_table": {str(k): v for k, v in table.items()}}
    print(f"dense {label} ({Path(enc.name).name}): embedded {len(ids)} premises in {cache.seconds:.0f} s; "
          f"prior weight chosen on {len(val)} val theorems: {w}", flush=True)
    res: dict[str, Any] = {}
    _run(f"dense {label}", res, lambda q, m, k: dr.retrieve_indices(q, m, k, prior_weight=0.0)[0], corpus, tasks,
         subset)
    _run(f"dense {label} + prior", res, lambda q, m, k: dr.retrieve_indices(q, m, k, prior_weight=w)[0], corpus,
         tasks, subset)
    if "bm25 (same subset)" not in out.setdefault("subset", {}).get("theorem", {}):
        _run("bm25 (same subset)", out["subset"], lambda q, m, k: bm.retrieve_indices(q, m, k, prior_weight=0.0)[0],
             corpus, tasks, subset)
        _run("bm25 + prior (same subset)", out["subset"],
             lambda q, m, k: bm.retrieve_indices(q, m, k, prior_weight=bm_w)[0], corpus, tasks, subset)
    for task, rows in res.items():
        out["subset"].setdefault(task, {}).update(rows)
    # full-size latency: encode the query + exact search over n vectors under the accessibility mask
    emb = dr.index.index.reconstruct_n(0, dr.index.index.ntotal)
    full = DenseIndex.from_embeddings(np.resize(emb, (n, emb.shape[1])), np.arange(n), "flat", dict(dr.index.meta))
    lat, lat_search = [], []
    items = tasks["theorem"][: args.latency_queries]
    for it in items:
        mask = corpus.accessible_from_file(it.file_idx, it.line)
        t1 = time.perf_counter()
        q = enc.encode([it.query], batch_size=1)[0]
        t2 = time.perf_counter()
        full.search(q, 100, mask, bonus=w * prior)
        t3 = time.perf_counter()
        lat.append(t3 - t1)
        lat_search.append(t3 - t2)
    sec["full_size_latency_ms"] = {"p50": round(1000 * float(np.percentile(lat, 50)), 2),
                                   "p99": round(1000 * float(np.percentile(lat, 99)), 2),
                                   "search_only_p50": round(1000 * float(np.percentile(lat_search, 50)), 2),
                                   "queries": len(lat)}
    print(f"  dense latency over {n} vectors (+ prior): {sec['full_size_latency_ms']}", flush=True)
    if compfiles is not None:
        cc, ctasks, cids, cprior = compfiles
        csub = np.zeros(len(cc), dtype=bool)
        csub[cids] = True
        cdr = retriever(cc, cids, cprior)
        cres = out.setdefault("compfiles_subset", {})
        _run(f"dense {label}", cres, lambda q, m, k: cdr.retrieve_indices(q, m, k, prior_weight=0.0)[0], cc,
             ctasks, csub)
        _run(f"dense {label} + prior", cres, lambda q, m, k: cdr.retrieve_indices(q, m, k, prior_weight=w)[0], cc,
             ctasks, csub)
    sec["embed_s"] = round(cache.seconds, 1)
    sec["premises_per_s"] = round(cache.embedded / max(cache.seconds, 1e-9), 1)
    out.setdefault("dense", {})[label] = sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, action="append", help="Lean source archive or tree (repeatable; "
                    "default: Mathlib + Batteries + Aesop from ../shared/corpus)")
    ap.add_argument("--compfiles", type=Path, default=DEFAULT_COMPFILES, help="compfiles archive (out-of-Mathlib set)")
    ap.add_argument("--skip-compfiles", action="store_true")
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache (default ~/.cache/lean-prover/retrieval)")
    ap.add_argument("--rebuild", action="store_true", help="time a fresh corpus build (else reuse the cache)")
    ap.add_argument("--max-theorems", type=int, default=None, help="evaluate at most this many test theorems")
    ap.add_argument("--skip-dense", action="store_true")
    ap.add_argument("--model", default=None, help="untrained dense encoder (default: packaged MiniLM)")
    ap.add_argument("--trained-model", default=None, help="trained checkpoint (scripts/train_retriever.py)")
    ap.add_argument("--skip-untrained", action="store_true", help="dense: only --trained-model")
    ap.add_argument("--dense-subset", type=int, default=10000, help="premises to embed (0 = whole corpus)")
    ap.add_argument("--dense-tactic-steps", type=int, default=800,
                    help="per-tactic items scored for dense (an even sample; BM25 beside it on the same)")
    ap.add_argument("--max-length", type=int, default=128, help="encoder tokens per premise / query")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--latency-queries", type=int, default=300, help="queries timed for dense full-size latency")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args(argv)
    cache = args.cache_dir or default_cache_dir()
    sources = args.corpus or DEFAULT_CORPORA
    out: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                 "corpus_sources": [str(s) for s in sources]}

    # -- corpus -------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    corpus = build_corpus(sources, cache_dir=cache, rebuild=args.rebuild, progress=True)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus = Corpus.load(cache / f"corpus-{corpus.meta['fingerprint']}")
    t_load = time.perf_counter() - t0
    out["corpus"] = {
        "files": len(corpus.files), "premises": len(corpus), "tactic_proofs": int(corpus.tactic_proof.sum()),
        "build_s (scan + resolve, when built)": round(float(corpus.meta.get("build_seconds", float("nan"))), 2),
        "build_s (this run)": round(t_build, 2), "load_s": round(t_load, 2), "rebuilt": args.rebuild,
    }
    print(f"corpus: {len(corpus)} premises, {len(corpus.files)} files; build {corpus.meta.get('build_seconds'):.1f} s"
          f" (this run {t_build:.1f} s), load {t_load:.2f} s", flush=True)

    thm = theorem_items(corpus, "test")[: args.max_theorems]
    val = theorem_items(corpus, "val")
    tac = tactic_items(corpus, thm)
    tasks: dict[str, Sequence[EvalItem]] = {"theorem": thm, "tactic": tac}
    out["task"] = {"test_theorems": len(thm), "test_theorem_gold": int(sum(len(i.gold) for i in thm)),
                   "test_tactic_steps": len(tac), "test_tactic_gold": int(sum(len(i.gold) for i in tac)),
                   "val_theorems": len(val)}
    print(f"test: {len(thm)} theorems, {len(tac)} tactic steps with premises; val: {len(val)} theorems", flush=True)

    prior = prior_feature(usage_counts(corpus, exclude=heldout_mask(corpus)))

    # gold premises a corpus of declared names alone could not represent, by the kind of name they are
    from retrieval.generated import GENERATED_KINDS

    by_kind: dict[str, int] = {}
    n_gold = 0
    for it in [*thm, *val]:
        for j in it.gold.tolist():
            by_kind[corpus.premises[j].kind] = by_kind.get(corpus.premises[j].kind, 0) + 1
            n_gold += 1
    out["gold_by_kind"] = {"gold_premises (test + val theorems)": n_gold,
                           **{k: f"{v} ({100 * v / max(n_gold, 1):.1f}%)" for k, v in sorted(
                               by_kind.items(), key=lambda kv: -kv[1])},
                           "generated (not representable before)": f"{sum(by_kind.get(k, 0) for k in GENERATED_KINDS)}"
                           f" ({100 * sum(by_kind.get(k, 0) for k in GENERATED_KINDS) / max(n_gold, 1):.1f}%)"}
    print(f"gold premises by kind: {out['gold_by_kind']}", flush=True)

    # -- BM25 -----------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    bm = BM25Retriever.build(corpus, progress=True, prior=prior)
    t_bm_index = time.perf_counter() - t0
    bm_w, table = choose_weight(bm.full_scores, corpus, val, prior, BM25_WEIGHTS, positive_only=True)
    out["bm25"] = {"index_build_s": round(t_bm_index, 2), "prior_weight": bm_w,
                   "val_table": {str(k): v for k, v in table.items()}}
    print(f"BM25 index {t_bm_index:.1f} s; prior weight chosen on {len(val)} val theorems: {bm_w}", flush=True)
    full: dict[str, Any] = {}
    _run("bm25", full, lambda q, m, k: bm.retrieve_indices(q, m, k, prior_weight=0.0)[0], corpus, tasks)
    _run("bm25 + prior", full, lambda q, m, k: bm.retrieve_indices(q, m, k, prior_weight=bm_w)[0], corpus, tasks)
    out["full"] = full

    # -- compfiles ------------------------------------------------------------------------------------------
    comp = None
    if not args.skip_compfiles and args.compfiles.exists():
        cc = build_corpus([*sources, args.compfiles], cache_dir=cache, progress=True)
        in_comp = np.array([cc.files[int(f)].path.startswith("Compfiles/") for f in cc.premise_file])
        cthm, folded = _unfolded([it for it in theorem_items(cc, None) if in_comp[it.premise_idx]], cc)
        ctac = tactic_items(cc, cthm)
        ctasks: dict[str, Sequence[EvalItem]] = {"theorem": cthm, "tactic": ctac}
        cprior = prior_feature(usage_counts(cc, exclude=heldout_mask(cc) | in_comp))
        cbm = BM25Retriever.build(cc, prior=cprior)
        cfull: dict[str, Any] = {}
        print(f"compfiles: {len(cthm)} theorems ({folded} dropped: a compfiles command folded into their proof), "
              f"{len(ctac)} tactic steps", flush=True)
        _run("bm25", cfull, lambda q, m, k: cbm.retrieve_indices(q, m, k, prior_weight=0.0)[0], cc, ctasks)
        _run("bm25 + prior", cfull, lambda q, m, k: cbm.retrieve_indices(q, m, k, prior_weight=bm_w)[0], cc,
             ctasks)
        out["compfiles"] = {"theorems": len(cthm), "tactic_steps": len(ctac), "dropped_folded": folded,
                            "full": cfull}
        if not args.skip_dense:
            must = np.unique(np.concatenate([it.gold for it in [*cthm, *ctac]]))
            cids = _subset(len(cc), must, args.dense_subset, args.seed)
            csub = np.zeros(len(cc), dtype=bool)
            csub[cids] = True
            cres = out.setdefault("compfiles_subset", {})
            stasks = {"theorem": cthm, "tactic": _sample(ctac, args.dense_tactic_steps)}
            _run("bm25 (same subset)", cres, lambda q, m, k: cbm.retrieve_indices(q, m, k, prior_weight=0.0)[0],
                 cc, stasks, csub)
            _run("bm25 + prior (same subset)", cres,
                 lambda q, m, k: cbm.retrieve_indices(q, m, k, prior_weight=bm_w)[0], cc, stasks, csub)
            comp = (cc, ctasks, cids, cprior)

    # -- dense ------------------------------------------------------------------------------------------------
    if not args.skip_dense:
        must = np.unique(np.concatenate([it.gold for it in [*thm, *tac, *val]]))
        ids = _subset(len(corpus), must, args.dense_subset, args.seed)
        dtasks = {"theorem": thm, "tactic": _sample(tac, args.dense_tactic_steps)}
        if comp is not None:
            comp = (comp[0], {"theorem": comp[1]["theorem"], "tactic": _sample(comp[1]["tactic"],
                                                                              args.dense_tactic_steps)}, *comp[2:])
        if not args.skip_untrained:
            dense_section("untrained", args.model, args, corpus, dtasks, val, ids, prior, out, bm, bm_w, comp)
        if args.trained_model:
            dense_section("trained", args.trained_model, args, corpus, dtasks, val, ids, prior, out, bm, bm_w, comp)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
