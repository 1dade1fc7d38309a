"""Premise retrieval: Lean corpus and accessibility, BM25 and dense (faiss) retrievers, training.

``build_retriever(cfg)`` is what the agent calls; ``prover index build|query`` drives the same code from the
command line. Layout of an index directory::

    corpus.json, corpus.npz   the corpus (premises, files, import graph, proof references)
    bm25/                     bm25s index
    dense/                    faiss index + ids.npy + meta.json (encoder, premise format, corpus fingerprint)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from prover.errors import UserError
from retrieval.base import Premise, Retriever
from retrieval.config import RetrievalConfig

if TYPE_CHECKING:
    from retrieval.bm25 import BM25Retriever
    from retrieval.dense import DenseRetriever

__all__ = ["Premise", "Retriever", "RetrievalConfig", "build_retriever", "load_corpus"]

log = logging.getLogger(__name__)


def load_corpus(cfg: RetrievalConfig, progress: bool = False):  # -> Corpus
    """The corpus of ``cfg``: the one saved in ``index_dir``, else built (once, cached) from ``sources``."""
    from retrieval.corpus import CORPUS_JSON, Corpus, build_corpus

    if cfg.index_dir is not None and (Path(cfg.index_dir) / CORPUS_JSON).is_file():
        return Corpus.load(cfg.index_dir)
    if cfg.sources:
        return build_corpus(cfg.sources, cache_dir=cfg.cache_dir, out_dir=cfg.index_dir, progress=progress)
    where = f"{cfg.index_dir} holds no corpus" if cfg.index_dir else "retrieval.index_dir is not set"
    raise UserError(f"premise retrieval is enabled but {where}: run `prover index build --source PATH --out DIR` "
                    "and set retrieval.index_dir, or set retrieval.sources")


def build_retriever(cfg: RetrievalConfig) -> BM25Retriever | DenseRetriever | None:
    """The retriever ``cfg`` describes, or ``None`` when retrieval is disabled (``enabled = false`` or ``k <= 0``).

    ``retrieve(state, theorem, k)`` returns at most ``k`` premises, best first, all accessible to ``theorem``
    (see `retrieval.corpus.Corpus.accessible_mask`): a theorem located in a corpus file sees that file's
    transitive imports and what is declared above it; a benchmark theorem sees what its header imports
    (``import Mathlib`` → every corpus module Mathlib imports); ``theorem=None`` sees every non-private premise.
    Both retrievers implement `Retriever` and hold their ``corpus``.
    """
    if not cfg.enabled or cfg.k <= 0:
        return None
    corpus = load_corpus(cfg)
    index_dir = Path(cfg.index_dir) if cfg.index_dir is not None else None
    method = cfg.method
    if method == "auto":
        method = "dense" if index_dir is not None and (index_dir / "dense" / "index.faiss").is_file() else "bm25"
    if method == "dense":
        from retrieval.dense import DenseRetriever

        if index_dir is None:
            raise UserError("dense retrieval needs retrieval.index_dir with an index built by `prover index build`")
        return DenseRetriever.load(index_dir / "dense", corpus, model=cfg.model, device=cfg.device,
                                   with_statement=cfg.query_with_statement, prior_weight=cfg.prior_weight)
    from retrieval.bm25 import BM25Retriever

    r = BM25Retriever.load(index_dir / "bm25", corpus, with_statement=cfg.query_with_statement,
                           prior_weight=cfg.prior_weight) if index_dir else None
    if r is None:
        log.info("building the BM25 index over %d premises", len(corpus))
        r = BM25Retriever.build(corpus, with_statement=cfg.query_with_statement, prior_weight=cfg.prior_weight)
        if index_dir is not None:
            try:
                r.save(index_dir / "bm25")
            except OSError as e:  # a read-only index dir still works, just rebuilt next time
                log.warning("could not save the BM25 index in %s: %s", index_dir, e)
    return r
