"""The premise-usage prior: how many corpus proofs name a premise, added to a retriever's score.

``score(p) = retriever_score(p) + weight * log(1 + uses(p))`` where ``uses(p)`` counts the corpus declarations
whose proof text names ``p`` (`Corpus.uses`). Widely used lemmas (``mul_comm``, ``le_refl``) are likelier to be
needed again; the log keeps a few hub lemmas from swamping the text match. The weight is per retriever (BM25
scores and cosines live on different scales) and is chosen on the validation split (`choose_weight`), never on
the test split; counts used for choosing or evaluating leave out the held-out theorems' own proofs, which
would otherwise give each of their gold premises a use it only has because it is gold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from retrieval.corpus import Corpus
    from retrieval.evaluate import EvalItem

# Weights tried by `choose_weight` (BM25 scores are ~0-60, cosines ~0-1).
BM25_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
DENSE_WEIGHTS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
# Used when a corpus has no validation theorems to choose on (e.g. LeanDojo's corpus.jsonl) or the index is
# not flat: what `choose_weight` picked on Mathlib + Batteries + Aesop (2024-06; 472 validation theorems;
# benchmarks/bench_retrieval.py, README): BM25 1.5; dense 0 for MiniLM untrained and CPU-trained (measured on a
# 10k sub-corpus made mostly of gold premises, where the prior has little to separate; a full flat index tunes
# its own weight at build time).
DEFAULT_BM25_WEIGHT = 1.5
DEFAULT_DENSE_WEIGHT = 0.0


def usage_counts(corpus: Corpus, exclude: np.ndarray | None = None) -> np.ndarray:
    """``counts[p]`` = number of corpus declarations whose proof names premise ``p`` (``exclude``: a mask of
    declarations whose proofs are not counted)."""
    per_decl = np.diff(corpus.uses_indptr)
    if exclude is not None and exclude.any():
        keep = np.repeat(~exclude, per_decl)
        refs = corpus.uses_indices[keep]
    else:
        refs = corpus.uses_indices
    return np.bincount(refs, minlength=len(corpus)).astype(np.int32)


def prior_feature(counts: np.ndarray) -> np.ndarray:
    return np.log1p(counts.astype(np.float32))


def heldout_mask(corpus: Corpus, splits: Sequence[str] = ("test", "val")) -> np.ndarray:
    """Declarations of the held-out ``splits`` (their proofs are left out of counts used to choose/evaluate)."""
    from retrieval.evaluate import split_of

    return np.fromiter((split_of(p.full_name) in splits for p in corpus.premises), dtype=bool, count=len(corpus))


def choose_weight(
    full_scores: Callable[[str], np.ndarray],
    corpus: Corpus,
    items: Sequence[EvalItem],
    prior: np.ndarray,
    weights: Sequence[float],
    ks: Sequence[int] = (1, 10, 100),
    positive_only: bool = False,
) -> tuple[float, dict[float, dict[str, float]]]:
    """The weight among ``weights`` that maximises the mean of R@1, R@10, R@100 and MRR over ``items``.

    ``full_scores(query)`` is the retriever's raw score for every corpus premise (computed once per query; each
    weight only re-ranks); ``positive_only``: only premises with a positive raw score are candidates (BM25:
    the prior re-ranks the premises the query matches). Ties go to the smaller weight. Returns the weight and
    every weight's figures.
    """
    from retrieval.search_util import top_k

    kmax = max(ks)
    sums = {w: np.zeros(len(ks) + 1) for w in weights}
    n = 0
    for it in items:
        mask = corpus.accessible_from_file(it.file_idx, it.line)
        raw = full_scores(it.query)
        if positive_only:
            mask = mask & (raw > 0)
        gs = set(it.gold.tolist())
        for w in weights:
            got, _ = top_k(raw + w * prior if w else raw, mask, kmax)
            hits = [j for j, g in enumerate(got.tolist()) if g in gs]
            row = [sum(1 for j in hits if j < k) / len(gs) for k in ks] + [1.0 / (hits[0] + 1) if hits else 0.0]
            sums[w] += row
        n += 1
    table: dict[float, dict[str, float]] = {}
    for w in weights:
        v = sums[w] / max(n, 1)
        table[w] = {**{f"R@{k}": round(float(v[i]), 4) for i, k in enumerate(ks)}, "MRR": round(float(v[-1]), 4)}
    best = max(weights, key=lambda w: (round(float(np.mean(sums[w])) / max(n, 1), 6), -w))
    return float(best), table


def tune_weight(
    full_scores: Callable[[str], np.ndarray],
    corpus: Corpus,
    weights: Sequence[float],
    positive_only: bool = False,
    max_items: int = 500,
    min_items: int = 20,
) -> tuple[float | None, dict[float, dict[str, float]], int]:
    """Choose the prior weight on the corpus's own validation theorems (at most ``max_items``), with counts
    that leave out the held-out proofs. Returns ``(None, {}, n)`` when the corpus has fewer than ``min_items``
    validation theorems (e.g. a LeanDojo corpus.jsonl, which has no proofs): the caller keeps its default."""
    from retrieval.evaluate import theorem_items

    items = theorem_items(corpus, "val", limit=max_items)
    if len(items) < min_items:
        return None, {}, len(items)
    prior = prior_feature(usage_counts(corpus, exclude=heldout_mask(corpus)))
    w, table = choose_weight(full_scores, corpus, items, prior, weights, positive_only=positive_only)
    return w, table, len(items)
