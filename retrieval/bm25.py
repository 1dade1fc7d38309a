"""BM25 on ``bm25s``: Lean-aware tokens, scores masked to accessible premises, plus the usage prior.

Candidates are the accessible premises sharing at least one token with the query; the premise-usage prior
(`retrieval.prior`, weight ``prior_weight``) re-ranks them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from prover.lean.types import Theorem
from retrieval.base import Premise
from retrieval.corpus import Corpus
from retrieval.prior import DEFAULT_BM25_WEIGHT
from retrieval.search_util import AccessCache, top_k
from retrieval.text import lean_tokens, premise_text, query_text

log = logging.getLogger(__name__)


class BM25Retriever:
    """``retrieve(state, theorem, k)``: the ``k`` best-scoring accessible premises (positive scores only)."""

    def __init__(self, corpus: Corpus, bm25: Any, with_statement: bool = False, prior_weight: float | None = None,
                 prior: np.ndarray | None = None) -> None:
        self.corpus = corpus
        self.bm25 = bm25
        self.with_statement = with_statement
        self.prior_weight = DEFAULT_BM25_WEIGHT if prior_weight is None else float(prior_weight)
        self._prior = prior
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._access = AccessCache(corpus)

    # -- building / persistence ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls, corpus: Corpus, progress: bool = False, k1: float = 1.2, b: float = 0.75, **kw: Any
    ) -> BM25Retriever:
        import bm25s

        # bm25s sets its own logger to DEBUG on import, which would print through our handlers.
        logging.getLogger("bm25s").setLevel(max(logging.WARNING, logging.getLogger().level))
        docs = [lean_tokens(premise_text(p)) for p in corpus.premises]
        model = bm25s.BM25(k1=k1, b=b)
        model.index(docs, show_progress=progress)
        return cls(corpus, model, **kw)

    def save(self, out_dir: Path, extra_meta: dict[str, Any] | None = None) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(out_dir), show_progress=False)
        meta = {"fingerprint": self.corpus.meta.get("fingerprint"), "num_premises": len(self.corpus),
                "prior_weight": self.prior_weight, **(extra_meta or {})}
        (out_dir / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, in_dir: Path, corpus: Corpus, prior_weight: float | None = None, **kw: Any) -> BM25Retriever | None:
        """The saved index, or ``None`` when it is missing or belongs to another corpus. ``prior_weight=None``:
        the weight chosen when the index was built."""
        import bm25s

        in_dir = Path(in_dir)
        try:
            meta = json.loads((in_dir / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("num_premises") != len(corpus) or meta.get("fingerprint") != corpus.meta.get("fingerprint"):
            return None
        model = bm25s.BM25.load(str(in_dir), show_progress=False)
        if prior_weight is None:
            prior_weight = meta.get("prior_weight")
        return cls(corpus, model, prior_weight=prior_weight, **kw)

    # -- retrieval -----------------------------------------------------------------------------------------

    def scores(self, text: str) -> np.ndarray:
        ids = [self._vocab[t] for t in lean_tokens(text) if t in self._vocab]
        if not ids:
            return np.zeros(len(self.corpus), dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def full_scores(self, query: str) -> np.ndarray:
        """Raw BM25 score of every corpus premise (no prior, no mask)."""
        return self.scores(query)

    @property
    def prior(self) -> np.ndarray:
        if self._prior is None:
            self._prior = self.corpus.prior
        return self._prior

    def retrieve_indices(self, query: str, mask: np.ndarray | None, k: int,
                         prior_weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        s = self.scores(query)
        valid = s > 0
        if mask is not None:
            valid &= mask
        w = self.prior_weight if prior_weight is None else prior_weight
        if w:
            s = s + w * self.prior
        return top_k(s, valid, k)

    def retrieve(self, state: str, theorem: Theorem | None, k: int) -> list[Premise]:
        if k <= 0:
            return []
        mask = self._access.mask(theorem)
        idx, _ = self.retrieve_indices(query_text(state, theorem, self.with_statement), mask, k)
        return [self.corpus.premises[i] for i in idx]

    def close(self) -> None:
        pass
