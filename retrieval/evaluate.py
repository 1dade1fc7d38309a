"""Retrieval evaluation on real data: the held-out split, gold premises, recall@k, MRR, latency.

Two task variants, both from source text (no traced goal states here):

* **theorem level** (`theorem_items`): gold = the accessible corpus declarations a theorem's tactic proof names
  (`Corpus.uses`); query = what the root goal state would show, the statement without keyword and name;
* **per tactic** (`tactic_items`): the proof is cut into tactic steps by layout (`tactic_steps`); gold = the
  premises one step names, query = the statement plus the proof text before that step. It is a text-level
  proxy for LeanDojo's per-state figures (whose query is the pretty-printed goal before the tactic and whose
  gold comes from elaboration), not the same number.

The split is a fixed hash of the theorem's full name, so every run (and training) agrees on what is held out.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.corpus import Corpus
from retrieval.lean_source import parse_lean_source, statement_without_name

log = logging.getLogger(__name__)

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


_BY = re.compile(r"\s*by\b")
_OPENS_BLOCK = re.compile(r"(?:\bby|=>|\bdo)\s*$")
_BULLET = re.compile(r"[·.]\s+")


def tactic_steps(body: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` in ``body`` (a declaration body after ``:=``, comments blanked) of the tactic steps
    of a ``by`` proof, in order; ``[]`` for a term proof.

    Layout decides, as Lean's tactic blocks do: a line starts a step when it begins at a column where steps of
    an enclosing block begin (the first tactic's column, the column after a ``·`` bullet, the first line after
    one ending in ``by`` / ``=>`` / ``do``), or left of every such column; other lines continue the step
    above (as do lines after ``:= by tac`` written on the statement's line). A bullet line is one step and its
    block's further lines are steps of their own, so nested tactics count. ``t1; t2`` and ``t <;> t'`` on one
    line stay one step.
    """
    m = _BY.match(body)
    if not m:
        return []
    starts: list[int] = []
    cols: set[int] = set()
    pending = True  # the next non-blank line opens a block
    pos = m.end()
    first = True
    while pos <= len(body):
        nl = body.find("\n", pos)
        end = len(body) if nl < 0 else nl
        line = body[pos:end]
        content = line.lstrip()
        if content:
            indent = len(line) - len(content)
            if first:  # `:= by tac` on the statement's line: its column is unknown here, later lines continue it
                starts.append(pos + indent)
            elif pending or indent in cols or (bool(cols) and indent < min(cols)):
                cols.add(indent)
                starts.append(pos + indent)
            pending = False
            b = _BULLET.match(content)
            if b:
                cols.add(indent + b.end())
            if _OPENS_BLOCK.search(content):
                pending = True
        first = False
        if nl < 0:
            break
        pos = nl + 1
    ends = starts[1:] + [len(body)]
    return [(a, e) for a, e in zip(starts, ends, strict=True)]


def tactic_items(corpus: Corpus, theorems: Sequence[EvalItem]) -> list[EvalItem]:
    """Per-tactic items of ``theorems`` (theorem-level items): for each tactic step that names at least one
    accessible premise, query = statement + the proof text before the step, gold = what the step names.

    The proof texts are re-read from the corpus's source files (theorems whose file is gone are skipped with
    a warning)."""
    from retrieval.names import NameResolver

    by_file: dict[int, list[EvalItem]] = {}
    for it in theorems:
        by_file.setdefault(it.file_idx, []).append(it)
    resolver = NameResolver(corpus)
    out: list[EvalItem] = []
    missing = 0
    for fi, its in sorted(by_file.items()):
        cf = corpus.files[fi]
        src = Path(cf.root) / cf.path if cf.root else None
        if src is None or not src.is_file():
            missing += len(its)
            continue
        lf = parse_lean_source(src.read_text(encoding="utf-8", errors="replace"), cf.module, cf.path)
        decls = {(d.full_name, d.line): d for d in lf.declarations}
        resolver.set_file(fi)
        for it in its:
            p = corpus.premises[it.premise_idx]
            d = decls.get((p.full_name, p.line))
            if d is None:
                missing += 1
                continue
            stmt = statement_without_name(p.code)
            for a, b in tactic_steps(d.body):
                gold = resolver.resolve_text(it.premise_idx, d, d.body[a:b])
                if gold:
                    query = f"{stmt}\n{' '.join(d.body[:a].split())}".strip()
                    out.append(EvalItem(it.premise_idx, query, np.array(gold), fi, it.line))
    if missing:
        log.warning("per-tactic items: %d theorems skipped (source file or declaration not found)", missing)
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
