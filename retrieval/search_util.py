"""Small pieces shared by the retrievers: top-k under a mask, and a cache of accessibility masks."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from prover.lean.types import Theorem
    from retrieval.corpus import Corpus

log = logging.getLogger(__name__)


def top_k(scores: np.ndarray, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best entries where ``valid``, best first (ties: lower index first)."""
    cand = np.flatnonzero(valid)
    if cand.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    s = scores[cand]
    if cand.size > k:
        part = np.argpartition(-s, k - 1)[:k]
        cand, s = cand[part], s[part]
    order = np.lexsort((cand, -s))
    return cand[order], s[order]


def _theorem_key(theorem: Theorem) -> tuple[Any, ...]:
    meta = theorem.meta
    return (
        theorem.name,
        theorem.source,
        theorem.header,
        str(meta.get("file_path") or meta.get("path") or ""),
        str(meta.get("line") or meta.get("start") or ""),
    )


class AccessCache:
    """Accessibility masks per theorem (a search calls ``retrieve`` many times for one theorem)."""

    def __init__(self, corpus: Corpus, size: int = 16) -> None:
        self.corpus = corpus
        self.size = size
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._none: np.ndarray | None = None
        self._warned: set[tuple[Any, ...]] = set()  # theorems already warned about (once each, not per state)

    def mask(self, theorem: Theorem | None) -> np.ndarray:
        if theorem is None:
            if self._none is None:
                self._none = self.corpus.accessible_mask(None)
            return self._none
        key = _theorem_key(theorem)
        m = self._cache.get(key)
        if m is None:
            m = self.corpus.accessible_mask(theorem)
            self._cache[key] = m
            if key not in self._warned:
                reason = self.corpus.fallback_reason(theorem)
                if reason is not None:
                    self._warned.add(key)
                    log.warning("theorem %s: %s; searching the whole corpus (%d premises) instead",
                                theorem.name, reason, len(self.corpus))
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return m
