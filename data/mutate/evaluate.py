"""How good is the prefilter, measured on a real library without Lean.

Mathlib's own proofs say which rewrite lemmas fit which theorem: the names inside ``rw [...]``, ``rwa``,
``rewrite``, ``erw``, ``nth_rw``, ``simp_rw`` and ``simp only [...]`` of its proof (the *gold pairs*). For every
theorem of the corpus the prefilter ranks the accessible premises against the theorem's statement (its
conclusion and its hypotheses, read from source text) and sends the best ``k`` per target to Lean; we count
how many gold pairs it sends (**recall**) and which share of all (theorem, accessible theorem) pairs it sends
(**fraction**). A rewrite lemma that a proof uses only after other steps changed the goal need not match the
statement at all, so recall is also reported for rules of a proof's *first* tactic, which act on the statement
itself -- the situation of a mutation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from data.mutate.prefilter import PremiseIndex, context_names, head_of, looks_propositional, term_keys
from data.mutate.statement import StatementError, parse_signature
from prover.lean.syntax import IDENT, SYMBOL, code_tokens, scan

log = logging.getLogger(__name__)

REWRITE_TACTICS = frozenset(["rw", "rwa", "rewrite", "erw", "nth_rw", "nth_rewrite", "simp_rw", "rw_mod_cast"])
THEOREM_KINDS = ("theorem", "lemma")


@dataclass(frozen=True, slots=True)
class Rule:
    tactic: str  # rw | rwa | ... | simp only
    name: str  # the identifier at the head of the rule, as written
    first_step: bool  # the tactic is the first of the proof (it acts on the statement's goal)


def rewrite_rules(proof: str) -> list[Rule]:
    """The rules of the rewriting tactics of a proof text (what follows ``:=``), with their tactic."""
    toks = code_tokens(proof)
    out: list[Rule] = []
    first_tactic = 1 if toks and toks[0].kind == IDENT and toks[0].text == "by" else None
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        name = None
        if t.kind == IDENT and t.text in REWRITE_TACTICS:
            name, j = t.text, i + 1
        elif t.kind == IDENT and t.text == "simp" and i + 1 < n and toks[i + 1].text == "only":
            name, j = "simp only", i + 2
        if name is None:
            i += 1
            continue
        first = first_tactic == i
        # skip a config `(config := …)` and `nth_rw 2` occurrence numbers before the rule list
        while j < n and toks[j].text != "[" and toks[j].line == t.line and toks[j].text != "at":
            j += 1
        if j >= n or toks[j].text != "[":
            i += 1
            continue
        depth, item_start = 0, True
        k = j
        while k < n:
            u = toks[k]
            if u.kind == SYMBOL and u.text in ("(", "[", "{", "⟨"):
                depth += 1
            elif u.kind == SYMBOL and u.text in (")", "]", "}", "⟩"):
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and u.kind == SYMBOL and u.text == ",":
                item_start = True
                k += 1
                continue
            if item_start and u.kind == IDENT and depth >= 1:
                out.append(Rule(name, u.text, first))
                item_start = False
            elif item_start and u.kind == SYMBOL and u.text not in ("←", "<-", "↑", "↓", "(", "["):
                item_start = False  # `h ▸ …`, `show …`: no leading name
            k += 1
        i = k + 1
    return out


def statement_sites(statement: str) -> list[frozenset[str]]:
    """Keys of the targets a mutation can rewrite: the conclusion, then each hypothesis binder."""
    try:
        sig = parse_signature(statement)
    except StatementError:
        return []
    variables = set(sig.bound_names)
    sites = [term_keys(sig.conclusion, variables)]
    for b in sig.binders:
        if b.bracket in ("(", "{", "⦃") and b.type is not None and looks_propositional(b.type, b.names):
            sites.append(term_keys(b.type, variables))
    return [s for s in sites if s]


def statement_hypotheses(statement: str) -> list[tuple[frozenset[str], str | None]]:
    """(keys, head) of each hypothesis binder: what ``apply`` would be matched against."""
    try:
        sig = parse_signature(statement)
    except StatementError:
        return []
    variables = set(sig.bound_names)
    out = []
    for b in sig.binders:
        if b.bracket in ("(", "{", "⦃") and b.type is not None and looks_propositional(b.type, b.names):
            out += [(term_keys(b.type, variables), head_of(code_tokens(b.type), variables))] * len(b.names)
    return out


# ---------------------------------------------------------------------------------------------------


@dataclass
class Benchmark:
    """Theorems of a corpus with their targets and gold rewrite premises (indices into the corpus)."""

    theorems: list[int]  # corpus premise indices
    sites: list[list[frozenset[str]]]
    gold: list[list[tuple[int, bool]]]  # per theorem: (premise, first_step)
    counts: dict[str, int] = field(default_factory=dict)
    hypotheses: list[list[tuple[frozenset[str], str | None]]] = field(default_factory=list)


def _corpus_theorems(corpus: Any, fi: int) -> dict[tuple[str, int], int]:
    lo, hi = np.searchsorted(corpus.premise_file, [fi, fi + 1])
    return {(corpus.premises[i].full_name, int(corpus.premise_line[i])): i for i in range(int(lo), int(hi))}


def collect(corpus: Any, *, limit_files: int | None = None, progress: bool = False) -> Benchmark:
    """Scan every corpus file: theorems, their targets, and the gold premises their proofs rewrite with."""
    from tqdm import tqdm

    from retrieval.names import NameResolver

    resolver = NameResolver(corpus)
    bench = Benchmark([], [], [])
    counts = {"theorems": 0, "rules": 0, "rules_unresolved": 0, "rules_not_theorem": 0, "rules_private": 0,
              "gold_pairs": 0, "gold_first_step": 0}
    files = range(len(corpus.files)) if limit_files is None else range(min(limit_files, len(corpus.files)))
    for fi in tqdm(files, desc="reading proofs", unit="file", disable=not progress):
        f = corpus.files[fi]
        path = Path(f.root) / f.path
        try:
            src = scan(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as e:
            log.warning("cannot read %s: %s", path, e)
            continue
        here = _corpus_theorems(corpus, fi)
        resolver.set_file(fi)
        for d in src.declarations:
            if d.kind not in THEOREM_KINDS or d.full_name is None or d.proof is None:
                continue
            ti = here.get((d.full_name, d.line))
            if ti is None:
                continue
            statement = src.text[d.keyword : d.statement_end]
            sites = statement_sites(statement)
            if not sites:
                continue
            ns = d.full_name.rsplit(".", 1)[0] if "." in d.full_name else ""
            if d.namespace and not (ns == d.namespace or ns.startswith(d.namespace + ".")):
                ns = d.namespace
            gold: dict[int, bool] = {}
            for rule in rewrite_rules(src.text[d.proof[0] : d.proof[1]]):
                counts["rules"] += 1
                j = resolver.resolve(rule.name, ns, tuple(d.opens), d.line, ti)
                if j is None:
                    counts["rules_unresolved"] += 1
                    continue
                if corpus.premises[j].kind not in THEOREM_KINDS:
                    counts["rules_not_theorem"] += 1
                    continue
                if corpus.private[j]:
                    counts["rules_private"] += 1
                    continue
                gold[j] = gold.get(j, False) or rule.first_step
            bench.theorems.append(ti)
            bench.sites.append(sites)
            bench.hypotheses.append(statement_hypotheses(statement))
            bench.gold.append(sorted(gold.items()))
            counts["theorems"] += 1
            counts["gold_pairs"] += len(gold)
            counts["gold_first_step"] += sum(1 for v in gold.values() if v)
    bench.counts = counts
    return bench


def build_index(corpus: Any, alpha: float = 1.0) -> PremiseIndex:
    """The prefilter's index over the corpus's theorems (other declarations cannot be rewritten with)."""
    names = [p.full_name for p in corpus.premises]
    statements = [p.code if p.kind in THEOREM_KINDS else "" for p in corpus.premises]
    return PremiseIndex.build(names, statements, alpha=alpha)


@dataclass(frozen=True)
class Variant:
    """One prefilter setting to measure: per-target budgets ``ks`` (``None``: every side whose keys all occur
    in the target, no ranking) and whether the usage prior ranks."""

    name: str
    ks: tuple[int, ...] | None
    prior: bool = False
    namespace: bool = False
    relative: bool = False  # ks are budgets in basis points of the theorem's accessible premises, per target


def usage_halves(corpus: Any, bench: Benchmark) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rewrite-usage counts from the two halves of the files (split by path hash), and each file's half: a
    theorem is ranked with the counts of the half it is not in, so the prior never saw its own proof."""
    half = np.array([int(hashlib.md5(f.path.encode()).hexdigest(), 16) % 2 for f in corpus.files], dtype=np.int8)
    uses = [np.zeros(len(corpus.premises), dtype=np.float32) for _ in range(2)]
    for t, ti in enumerate(bench.theorems):
        h = half[int(corpus.premise_file[ti])]
        for g, _ in bench.gold[t]:
            uses[h][g] += 1
    return uses[0], uses[1], half


def evaluate(
    corpus: Any,
    index: PremiseIndex,
    bench: Benchmark,
    variants: Sequence[Variant],
    *,
    prior_weight: float = 2.0,
    namespace_weight: float = 2.0,
    apply_ks: Sequence[int] = (),
    batch: int = 256,
    limit: int | None = None,
    offset: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Recall of gold pairs and fraction of pairs sent, for every variant and budget (see `Variant`)."""
    from tqdm import tqdm

    use0, use1, half = usage_halves(corpus, bench)
    priors = [(prior_weight * np.log1p(use1)).astype(np.float32), (prior_weight * np.log1p(use0)).astype(np.float32)]
    is_thm = np.array([p.kind in THEOREM_KINDS for p in corpus.premises]) & ~corpus.private
    per_file = np.bincount(corpus.premise_file[is_thm], minlength=len(corpus.files))
    cells = [(v, k) for v in variants for k in (v.ks or (0,))]
    sent = dict.fromkeys(cells, 0)
    calls = dict.fromkeys(cells, 0)
    hit = dict.fromkeys(cells, 0)
    hit_first = dict.fromkeys(cells, 0)
    hit_match = dict.fromkeys(cells, 0)
    denom = 0
    n_gold = n_first = n_match = 0
    apply_sent = dict.fromkeys(apply_ks, 0)
    apply_calls = dict.fromkeys(apply_ks, 0)
    t0 = time.perf_counter()
    order = np.argsort([corpus.premise_file[t] for t in bench.theorems], kind="stable")
    if limit is not None:  # a spread-out sample: every n-th theorem in file order, from ``offset``
        step = max(1, len(order) // limit)
        order = order[offset % step :: step][:limit]
    cur_file, base, same_idx, same_line = -1, None, None, None
    for b0 in tqdm(range(0, len(order), batch), desc="prefilter", unit="batch", disable=not progress):
        ids = [int(t) for t in order[b0 : b0 + batch]]
        cols: dict[int, list[int]] = {}
        q_rows: list[frozenset[str]] = []
        for t in ids:
            for keys in bench.sites[t]:
                cols.setdefault(t, []).append(len(q_rows))
                q_rows.append(keys)
        scores = index.side_scores(sp.vstack([index.query_vector(k) for k in q_rows]).tocsr())
        for t in ids:
            ti = bench.theorems[t]
            fi = int(corpus.premise_file[ti])
            if fi != cur_file:
                cur_file = fi
                base = corpus.reach[fi][corpus.premise_file] & is_thm
                same_idx = np.flatnonzero(corpus.premise_file == fi)
                same_line = corpus.premise_line[same_idx]
            line = int(corpus.premise_line[ti])
            acc = base.copy()
            earlier = same_idx[same_line < line]
            acc[earlier] = is_thm[earlier]
            acc[ti] = False
            n_acc = int(per_file[corpus.reach[fi]].sum()) + int(is_thm[earlier].sum())
            denom += n_acc
            ns_cache: dict[int, np.ndarray] = {}

            def _ns(t: int, ti: int = ti, cache: dict[int, np.ndarray] = ns_cache) -> np.ndarray:
                if t not in cache:
                    p = corpus.premises[ti]
                    ns = p.full_name.rsplit(".", 1)[0] if "." in p.full_name else ""
                    cache[t] = index.namespace_score(context_names(term_keys(p.code), ns), namespace_weight)
                return cache[t]

            if apply_ks:
                prior = priors[half[fi]] + _ns(t)
                got = [index.applies(keys, head, max(apply_ks), acc, prior=prior) for keys, head in bench.hypotheses[t]]
                for k in apply_ks:
                    apply_sent[k] += len({m.premise for g in got for m in g[:k]})
                    apply_calls[k] += sum(min(k, len(g)) for g in got)
            gold = dict(bench.gold[t])
            matchable = {g for g in gold if _matchable(index, g, bench.sites[t])}
            n_gold += len(gold)
            n_first += sum(gold.values())
            n_match += len(matchable)
            sites = []
            for c in cols.get(t, []):
                lo, hi = scores.indptr[c], scores.indptr[c + 1]
                sites.append((scores.indices[lo:hi], scores.data[lo:hi]))
            for v in variants:
                if v.ks is None:
                    chosen: set[int] = set()
                    n_calls = 0
                    for rows, shared in sites:
                        keep = acc[index.row_premise[rows]] & (index.row_total[rows] - shared < 1e-4)
                        n_calls += int(keep.sum())
                        chosen.update(index.row_premise[rows[keep]].tolist())
                    per_k = {0: (chosen, n_calls)}
                else:
                    prior = None
                    if v.prior:
                        prior = priors[half[fi]]
                    if v.namespace:
                        ns_score = _ns(t)
                        prior = ns_score if prior is None else prior + ns_score
                    budget = {k: (max(1, -(-k * n_acc // 10000)) if v.relative else k) for k in v.ks}
                    top = max(budget.values())
                    ranked = [index.top_rewrites(rows, shared, top, acc, prior=prior) for rows, shared in sites]
                    per_k = {}
                    for k in v.ks:
                        chosen = set()
                        n_calls = 0
                        for r in ranked:
                            chosen.update(m.premise for m in r[: budget[k]])
                            n_calls += min(budget[k], len(r))
                        per_k[k] = (chosen, n_calls)
                for k, (chosen, n_calls) in per_k.items():
                    cell = (v, k)
                    sent[cell] += len(chosen)
                    calls[cell] += n_calls
                    for g, first in gold.items():
                        if g in chosen:
                            hit[cell] += 1
                            hit_first[cell] += first
                            hit_match[cell] += g in matchable
    n_thm = len(order)
    return {
        "theorems": n_thm,
        "gold_pairs": n_gold,
        "gold_first_step": n_first,
        "gold_matchable": n_match,
        "pairs_total": denom,
        "seconds": time.perf_counter() - t0,
        "apply": [
            {"k": k, "fraction": apply_sent[k] / max(1, denom), "premises_per_theorem": apply_sent[k] / max(1, n_thm),
             "tactic_calls_per_theorem": apply_calls[k] / max(1, n_thm)}
            for k in apply_ks
        ],
        "rows": [
            {
                "variant": v.name,
                "k": k or None,
                "relative": v.relative,
                "recall": hit[(v, k)] / max(1, n_gold),
                "recall_first_step": hit_first[(v, k)] / max(1, n_first),
                "recall_matchable": hit_match[(v, k)] / max(1, n_match),
                "fraction": sent[(v, k)] / max(1, denom),
                "premises_per_theorem": sent[(v, k)] / max(1, n_thm),
                "tactic_calls_per_theorem": calls[(v, k)] / max(1, n_thm),
            }
            for v, k in cells
        ],
    }


def _matchable(index: PremiseIndex, premise: int, sites: list[frozenset[str]]) -> bool:
    """Some side of ``premise`` has all its keys in one of the targets (what `rw` needs at least)."""
    for r in index.rows_of(premise):
        keys = set(index.rows.indices[index.rows.indptr[r] : index.rows.indptr[r + 1]].tolist())
        for site in sites:
            ids = {index.vocab[k] for k in site if k in index.vocab}
            if keys <= ids:
                return True
    return False
