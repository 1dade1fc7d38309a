"""The premises a mutation may try: the prefilter's index over a corpus, with accessibility and a usage prior.

`PremiseSource` implements the pipeline's `Prefilter` protocol over a `retrieval.corpus.Corpus` (the same
source tree the candidates come from): only theorems accessible at the candidate's place (imported files, or
earlier in its own file; never ``private`` ones, whose real names cannot be written) are ranked. The ranking
adds to the structural score (`data.mutate.prefilter`) ``prior_weight · log(1 + uses)``, where ``uses`` counts
the theorems of the corpus whose proofs rewrite with the premise (``rw`` / ``simp only`` …): a rewrite rule
many proofs use is one that fits many goals. The benchmark measures this prior on files it was not counted on.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from data.mutate.candidates import Candidate
from data.mutate.prefilter import PremiseIndex, context_names

log = logging.getLogger(__name__)

THEOREM_KINDS = ("theorem", "lemma")
CACHE_VERSION = 1


def rewrite_usage(corpus: Any, progress: bool = False) -> np.ndarray:
    """For each corpus premise, how many theorems of the corpus rewrite with it in their proof."""
    from data.mutate.evaluate import collect

    bench = collect(corpus, progress=progress)
    uses = np.zeros(len(corpus.premises), dtype=np.float32)
    for t in range(len(bench.theorems)):
        for g, _ in bench.gold[t]:
            uses[g] += 1
    return uses


class PremiseSource:
    """Prefilter over a corpus (see the module docstring)."""

    def __init__(self, corpus: Any, index: PremiseIndex, uses: np.ndarray | None = None,
                 prior_weight: float = 2.0, namespace_weight: float = 2.0) -> None:
        self.corpus = corpus
        self.namespace_weight = namespace_weight
        self.index = index
        self.is_theorem = np.array([p.kind in THEOREM_KINDS for p in corpus.premises], dtype=bool)
        self.prior = (prior_weight * np.log1p(uses)).astype(np.float32) if uses is not None else None

    @classmethod
    def build(cls, corpus: Any, *, alpha: float = 1.0, prior_weight: float = 2.0, namespace_weight: float = 2.0,
              usage: bool = True, cache_dir: Path | None = None, progress: bool = False) -> PremiseSource:
        """Index the corpus (cached next to it when ``cache_dir`` is given: keyed by the corpus fingerprint)."""
        key = hashlib.sha1(f"{CACHE_VERSION}:{corpus.meta.get('fingerprint')}:{alpha}:{usage}".encode()).hexdigest()
        cache = Path(cache_dir) / f"mutate-index-{key[:16]}.pkl" if cache_dir and corpus.meta.get("fingerprint") \
            else None
        if cache is not None and cache.is_file():
            try:
                with cache.open("rb") as f:
                    index, uses = pickle.load(f)
                return cls(corpus, index, uses, prior_weight, namespace_weight)
            except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
                log.warning("ignoring a damaged prefilter cache %s (%s)", cache, e)
        names = [p.full_name for p in corpus.premises]
        statements = [p.code if p.kind in THEOREM_KINDS else "" for p in corpus.premises]
        index = PremiseIndex.build(names, statements, alpha=alpha)
        uses = rewrite_usage(corpus, progress=progress) if usage else None
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp")
                with tmp.open("wb") as f:
                    pickle.dump((index, uses), f)
                tmp.replace(cache)
            except OSError as e:
                log.warning("cannot cache the prefilter index at %s: %s", cache, e)
        return cls(corpus, index, uses, prior_weight, namespace_weight)

    # -- Prefilter ----------------------------------------------------------------------------------

    def scope(self, candidate: Candidate, context: frozenset[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """(accessible premises, per-premise score added to the structural one) for a theorem."""
        c = self.corpus
        fi = c.path_index.get(candidate.file)
        if fi is None:
            for p, i in c.path_index.items():
                if candidate.file.endswith("/" + p) or p.endswith("/" + candidate.file):
                    fi = i
                    break
        mask = None
        if fi is not None:
            mask = c.accessible_from_file(fi, candidate.line) & self.is_theorem & ~c.private
            own = c.name_index.get(candidate.name, [])
            mask[[i for i in own if int(c.premise_file[i]) == fi]] = False
        ns = candidate.name.rsplit(".", 1)[0] if "." in candidate.name else ""
        extra = self.index.namespace_score(context_names(context, ns), self.namespace_weight)
        if self.prior is not None:
            extra = extra + self.prior
        return mask, extra

    def rewrites(self, keys: frozenset[str], k: int, scope: tuple[np.ndarray | None, np.ndarray]
                 ) -> list[tuple[str, bool]]:
        mask, extra = scope
        matches = self.index.rewrites(keys, k, mask, prior=extra)
        return [(self.index.names[m.premise], m.reverse) for m in matches]

    def applies(self, keys: frozenset[str], head: str | None, k: int, scope: tuple[np.ndarray | None, np.ndarray]
                ) -> list[str]:
        mask, extra = scope
        return [self.index.names[m.premise] for m in self.index.applies(keys, head, k, mask, prior=extra)]
