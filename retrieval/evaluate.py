"""Retrieval evaluation on real data: the held-out split, gold premises, recall@k, MRR, latency.

Gold premises of a theorem with a tactic proof are the corpus declarations its proof text names that are
accessible to it (`Corpus.uses`). The query is what a goal state at the root would show: the statement without
the keyword and name (binders and type), since the source tree has no traced goal states. The split is a fixed
hash of the theorem's full name, so every run (and training) agrees on what is held out.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.corpus import Corpus
from retrieval.lean_source import statement_without_name

TEST_PERCENT = 2  # names hashing into [0, 2) of 100 are the test split
VAL_PERCENT = 1  # [2, 3) validation; the rest trains


def split_of(full_name: str) -> str:
    h = int.from_bytes(hashlib.md5(full_name.encode()).digest()[:4], "little") % 100
    if h < TEST_PERCENT:
        return "test"
    if h < TEST_PERCENT + VAL_PERCENT:
        return "val"
    return "train"


@dataclass(slots=True)
class EvalItem:
    premise_idx: int  # the theorem itself, as a corpus declaration
    query: str
    gold: np.ndarray  # corpus indices
    file_idx: int
    line: int


def theorem_items(corpus: Corpus, split: str | None = "test", tactic_only: bool = True,
                  limit: int | None = None, kinds: Sequence[str] = ("theorem", "lemma")) -> list[EvalItem]:
    """Theorems of ``split`` (``None``: all) with (tactic) proofs and at least one accessible gold premise."""
    out: list[EvalItem] = []
    kinds = tuple(kinds)
    for i, p in enumerate(corpus.premises):
        if p.kind not in kinds or (tactic_only and not corpus.tactic_proof[i]):
            continue
        gold = corpus.uses(i)
        if gold.size == 0 or (split is not None and split_of(p.full_name) != split):
            continue
        out.append(EvalItem(i, statement_without_name(p.code), np.array(gold), int(corpus.premise_file[i]), p.line))
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass
class EvalResult:
    n_theorems: int
    n_gold: int
    recall: dict[int, float]
    mrr: float
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def as_dict(self) -> dict[str, float]:
        d: dict[str, float] = {"theorems": self.n_theorems, "gold_premises": self.n_gold, "MRR": round(self.mrr, 4)}
        for k, v in self.recall.items():
            d[f"R@{k}"] = round(v, 4)
        if self.latencies:
            d["p50_ms"] = round(1000 * self.percentile(50), 2)
            d["p99_ms"] = round(1000 * self.percentile(99), 2)
        return d


def evaluate(
    retrieve: Callable[[str, np.ndarray, int], np.ndarray],
    corpus: Corpus,
    items: Sequence[EvalItem],
    ks: Sequence[int] = (1, 10, 100),
    restrict: np.ndarray | None = None,
    progress: bool = False,
) -> EvalResult:
    """Run ``retrieve(query, accessible_mask, k) -> corpus indices`` over ``items``.

    ``restrict`` (a premise mask) limits both candidates and gold to a sub-corpus (for encoders that could only
    embed part of the corpus); items left with no gold are skipped.
    """
    from tqdm import tqdm

    kmax = max(ks)
    rec = {k: 0.0 for k in ks}
    rr = 0.0
    n = n_gold = 0
    lat: list[float] = []
    for it in tqdm(items, desc="evaluating", unit="thm", disable=not progress):
        mask = corpus.accessible_from_file(it.file_idx, it.line)
        gold = it.gold
        if restrict is not None:
            mask = mask & restrict
            gold = gold[restrict[gold]]
        if gold.size == 0:
            continue
        t0 = time.perf_counter()
        got = np.asarray(retrieve(it.query, mask, kmax))
        lat.append(time.perf_counter() - t0)
        assert mask[got].all(), "a retriever returned an inaccessible premise"
        gs = set(gold.tolist())
        hits = [j for j, g in enumerate(got.tolist()) if g in gs]
        for k in ks:
            rec[k] += sum(1 for j in hits if j < k) / len(gs)
        rr += 1.0 / (hits[0] + 1) if hits else 0.0
        n += 1
        n_gold += len(gs)
    return EvalResult(n, n_gold, {k: v / max(n, 1) for k, v in rec.items()}, rr / max(n, 1), lat)
