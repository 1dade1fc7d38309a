"""Which library theorems are worth trying on a target: an index of premises by what they can match.

Alchemy tried every premise on every theorem (~110k ``rw`` attempts per theorem and direction). Lean's ``rw``
only succeeds where an instance of the rule's left side (``←``: right side) occurs in the target: ``kabstract``
looks for subterms with the pattern's head constant, so every constant of the pattern must occur in the
target. ``apply T`` to a hypothesis ``h : P`` needs T's conclusion to unify with ``P``: the same head, and
T's constants inside ``P``. This module keeps exactly that structure, read from text:

* **keys** of a term: its constants and notation (identifiers by their last component, so ``Finset.card s``,
  ``s.card`` and ``card s`` agree; operator symbols; numerals), without variables (binder names, names bound
  by ``∀ ∃ fun ∑ …``, the hypotheses of a goal, and -- in source text -- short names that ``variable`` bound),
  coercion arrows or brackets;
* a premise's **rewrite sides**: its conclusion after ``∀`` binders and ``→`` hypotheses, split at the top
  ``↔`` or ``=``; any other proposition ``P`` rewrites ``P`` (to ``True``; ``¬P`` rewrites ``P`` to ``False``);
* its **apply shape**: the conclusion's head (lowest-precedence operator, else the applied constant) and keys.

A target (the goal's conclusion, a hypothesis) is scored against every side at once with a sparse product:
``score = Σ w(shared keys) − α Σ w(missing keys)`` with ``w`` the inverse document frequency of a key over all
premise statements, so a side whose keys all occur in the target ranks by how specific it is, and one missing a
rare key falls behind. `PremiseIndex.rewrites` / `applies` return the best ``k`` accessible premises.

What this cannot see (Lean can): definitional unfolding (``apply`` unifies up to ``reducible`` / instances,
``Nat.Coprime a b`` accepts a rule about ``gcd a b = 1``), notation that elaborates to other constants
(``x > y`` is ``y < x``), and implicit coercions in source text (keys ignore ``↑``). In the pipeline the target
is Lean's own goal string, which shows the elaborated form; the benchmark reads source statements.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from data.mutate.statement import CLOSERS, OPENERS, StatementError, parse_signature
from prover.lean.syntax import IDENT, NUMBER, SYMBOL, Token, code_tokens, ident_parts

# Tokens that are structure, not content.
STRUCTURAL = frozenset(
    "( ) [ ] { } ⦃ ⦄ ⟨ ⟩ {{ }} , : := => ↦ . .. @ @[ · $ <| |> ; _ ?_ ` %".split(" ")  # noqa: SIM905
)
KEYWORDS = frozenset(
    "fun λ let have show from if then else by at with match in do Type Sort Type* Sort* where calc using".split(" ")  # noqa: SIM905
)
BINDERS = frozenset("∀ ∃ ∃! Π Σ Σ' ∑ ∏ ⋃ ⋂ ⨆ ⨅ ∫ ∮ ⨁ ⨂ fun λ ∑' ∏' ∀ᶠ ∃ᶠ ∀ᵐ ∃ᵐ".split(" "))  # noqa: SIM905
COERCIONS = frozenset(["↑", "⇑", "↥"])
# A written name that is most likely a variable (x, x₁, x', hx, ε, α): 1-2 letters + decorations.
_SHORT = re.compile(r"^(?:[^\W\d_]{1,2}[₀-₉\d'!?]*|u_\d+)$")

# Binding power of top-level operators, lowest first (Lean 4 / Mathlib notation precedences).
_PREC = {
    "↔": 20, "→": 25, "∨": 30, "∧": 35, "¬": 40,
    "=": 50, "≠": 50, "<": 50, ">": 50, "≤": 50, "≥": 50, "∈": 50, "∉": 50, "⊆": 50, "⊂": 50, "⊇": 50,
    "⊃": 50, "∣": 50, "≡": 50, "≃": 25, "≅": 25, "≈": 50, "==": 50, "≺": 50, "≼": 50, "⟂": 50, "⊥": 50,
    "∪": 65, "∩": 70, "+": 65, "-": 65, "*": 70, "/": 70, "%": 70, "•": 73, "∘": 90, "^": 75, "\\": 70,
    "×ˢ": 82, "⁻¹": 1024, "!": 10000,
}


# Notation for types → the namespace of their lemmas.
TYPE_NAMESPACES = {
    "ℕ": "Nat", "ℤ": "Int", "ℚ": "Rat", "ℝ": "Real", "ℂ": "Complex", "ℝ≥0": "NNReal", "ℝ≥0∞": "ENNReal",
}


def _is_variable(name: str, variables: frozenset[str] | set[str], guess: bool) -> bool:
    if name in variables:
        return True
    return guess and "." not in name and bool(_SHORT.match(name))


def _bound_names(toks: Sequence[Token]) -> set[str]:
    """Names bound inside the term by ``∀ x y, …``, ``∃ (x : α), …``, ``fun x =>``, ``∑ i ∈ s, …`` …"""
    out: set[str] = set()
    n = len(toks)
    for i, t in enumerate(toks):
        if not ((t.kind == SYMBOL or t.kind == IDENT) and t.text in BINDERS):
            continue
        j = i + 1
        depth = 0
        while j < n:
            u = toks[j]
            if u.kind == SYMBOL and u.text in OPENERS:
                depth += 1
            elif u.kind == SYMBOL and u.text in CLOSERS:
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0 and u.kind == SYMBOL and u.text in (",", "=>", "↦", ":", "∈", "∉", "≤", "<", "≥", ">",
                                                                 "≠", "⊆", "⊂", "|"):
                break
            elif depth > 0 and u.kind == SYMBOL and u.text == ":":
                # `(x y : α)`: skip the type up to the closing bracket
                k = j
                d = depth
                while k < n and d > 0:
                    k += 1
                    if k < n and toks[k].kind == SYMBOL and toks[k].text in OPENERS:
                        d += 1
                    elif k < n and toks[k].kind == SYMBOL and toks[k].text in CLOSERS:
                        d -= 1
                depth = 0
                j = k + 1
                continue
            if u.kind == IDENT:
                out.add(u.text)
            j += 1
    return out


def keys_of_tokens(toks: Sequence[Token], variables: Iterable[str] = (), *, guess_variables: bool = True) -> set[str]:
    """The keys of a term given as code tokens (see the module docstring)."""
    var = set(variables) | _bound_names(toks)
    out: set[str] = set()
    stack: list[str] = []
    skip_to: int | None = None  # inside a type ascription `(e : T)`: skip T (types are not in the term)
    toks = list(toks)
    for i, t in enumerate(toks):
        if t.text == "ℝ" and i + 2 < len(toks) and toks[i + 1].text == "≥" and toks[i + 2].text == "0":
            ennreal = i + 3 < len(toks) and toks[i + 3].text == "∞"
            out.add("ℝ≥0∞" if ennreal else "ℝ≥0")  # the types of NNReal / ENNReal, one key each
            del toks[i + 1 : i + (4 if ennreal else 3)]
            continue
        if t.kind == SYMBOL and t.text in OPENERS:
            stack.append(t.text)
            continue
        if t.kind == SYMBOL and t.text in CLOSERS:
            if skip_to is not None and len(stack) == skip_to:
                skip_to = None
            if stack:
                stack.pop()
            continue
        if skip_to is not None:
            continue
        if t.kind == SYMBOL and t.text == ":" and stack and stack[-1] in ("(", "{", "⦃", "["):
            skip_to = len(stack)
            continue
        if t.kind == IDENT:
            text = t.text
            if text in KEYWORDS or text in BINDERS:
                continue
            parts = ident_parts(text)
            if not parts:
                continue
            if len(parts) == 1:
                if text in TYPE_NAMESPACES:  # ℕ ℤ ℚ ℝ ℂ: notation, not variables
                    out.add(text)
                    continue
                if _is_variable(text, var, guess_variables):
                    continue
                out.add(parts[0])
            else:  # `Finset.card`, `s.card` (field notation on a variable): the last component
                out.add(parts[-1])
        elif t.kind == NUMBER:
            out.add(t.text)
        elif t.kind == SYMBOL:
            s = t.text
            if s in STRUCTURAL or s in COERCIONS:
                continue
            if s.startswith(".") and len(s) > 1:  # `.1` field index
                continue
            out.add(s)
    return out


def term_keys(text: str, variables: Iterable[str] = (), *, guess_variables: bool = True) -> frozenset[str]:
    return frozenset(keys_of_tokens(code_tokens(text), variables, guess_variables=guess_variables))


# ---------------------------------------------------------------------------------------------------
# Shapes of statements


def _depth0(toks: Sequence[Token]) -> list[int]:
    """Indices of the tokens outside brackets, up to the first binder at depth 0 (whose body runs to the end)."""
    out: list[int] = []
    depth = 0
    for i, t in enumerate(toks):
        if t.kind == SYMBOL and t.text in OPENERS:
            depth += 1
            continue
        if t.kind == SYMBOL and t.text in CLOSERS:
            depth -= 1
            continue
        if depth == 0:
            if t.text in BINDERS and i > 0:
                break
            out.append(i)
    return out


def _split(toks: list[Token], ops: Iterable[str]) -> tuple[list[Token], str, list[Token]] | None:
    ops = set(ops)
    for i in _depth0(toks):
        if toks[i].kind == SYMBOL and toks[i].text in ops:
            return toks[:i], toks[i].text, toks[i + 1 :]
    return None


def strip_binders(toks: list[Token]) -> tuple[list[list[Token]], list[Token], set[str]]:
    """``∀ x, A → ∀ y, B → C`` → (hypotheses [A, B], conclusion C, bound names {x, y})."""
    hyps: list[list[Token]] = []
    bound: set[str] = set()
    while toks:
        if toks[0].kind == SYMBOL and toks[0].text == "∀":
            depth = 0
            cut = None
            for i, t in enumerate(toks):
                if t.kind == SYMBOL and t.text in OPENERS:
                    depth += 1
                elif t.kind == SYMBOL and t.text in CLOSERS:
                    depth -= 1
                elif depth == 0 and t.kind == SYMBOL and t.text == ",":
                    cut = i
                    break
            if cut is None:
                break
            bound |= _bound_names(toks[: cut + 1])
            toks = toks[cut + 1 :]
            continue
        sp_ = _split(toks, ("→",))
        if sp_ is None:
            break
        hyps.append(sp_[0])
        toks = sp_[2]
    return hyps, toks, bound


def head_of(toks: Sequence[Token], variables: Iterable[str] = ()) -> str | None:
    """The head of a term: its lowest-precedence top-level operator, else the function applied."""
    if not toks:
        return None
    first = toks[0]
    if first.text in BINDERS:
        return first.text
    best: tuple[int, str] | None = None
    for i in _depth0(list(toks)):
        t = toks[i]
        if t.kind == SYMBOL and t.text in _PREC and i > 0:
            p = _PREC[t.text]
            if best is None or p < best[0]:
                best = (p, t.text)
    if first.kind == SYMBOL and first.text == "¬" and (best is None or best[0] >= _PREC["¬"]):
        return "¬"  # `¬a = b` is `¬(a = b)`: `¬` takes its argument at precedence 40
    if best is not None:
        return best[1]
    var = set(variables)
    for t in toks:
        if t.kind == IDENT and t.text not in KEYWORDS:
            parts = ident_parts(t.text)
            if len(parts) == 1 and _is_variable(t.text, var, True):
                return None  # `f x`, `p a`: a variable applied, no constant head
            return parts[-1] if parts else None
        if t.kind == SYMBOL and t.text in OPENERS:
            continue
        if t.kind == SYMBOL and t.text not in STRUCTURAL and t.text not in COERCIONS:
            return t.text
    return None


@dataclass(frozen=True, slots=True)
class PremiseShape:
    """What a premise can match: rewrite sides (forward = its left side, reverse = its right side) and its
    conclusion for ``apply``."""

    forward: frozenset[str] | None  # keys of the pattern `rw [T]` looks for
    reverse: frozenset[str] | None  # keys of the pattern `rw [← T]` looks for (None: not an equation / iff)
    relation: str  # "=" | "↔" | "prop" | "¬"
    conclusion: frozenset[str]
    head: str | None
    hypotheses: int  # premises the conclusion needs: `→` hypotheses and explicit binders (apply leaves goals)


def premise_shape(statement: str) -> PremiseShape | None:
    """Shape of ``theorem NAME binders : conclusion`` (``None`` if it cannot be read)."""
    try:
        sig = parse_signature(statement)
    except StatementError:
        return None
    variables = set(sig.bound_names)
    toks = code_tokens(sig.conclusion)
    hyps, concl, bound = strip_binders(toks)
    variables |= bound
    explicit = sum(len(b.names) for b in sig.binders if b.bracket == "(" and b.type is not None and
                   _looks_propositional(b.type, b.names))
    keys = frozenset(keys_of_tokens(concl, variables))
    head = head_of(concl, variables)
    split = _split(list(concl), ("↔",)) or _split(list(concl), ("=",))
    if split is not None:
        lhs, rel, rhs = split
        fwd = frozenset(keys_of_tokens(lhs, variables))
        rev = frozenset(keys_of_tokens(rhs, variables))
        return PremiseShape(fwd, rev, rel, keys, head, len(hyps) + explicit)
    if concl and concl[0].kind == SYMBOL and concl[0].text == "¬":
        return PremiseShape(frozenset(keys_of_tokens(concl[1:], variables)), None, "¬", keys, head,
                            len(hyps) + explicit)
    return PremiseShape(keys, None, "prop", keys, head, len(hyps) + explicit)


_PROP_SYMBOLS = frozenset("= ≠ < > ≤ ≥ ∈ ∉ ⊆ ⊂ ∣ ↔ → ∧ ∨ ¬ ∀ ∃ ≡ ⟂ ≃".split(" "))  # noqa: SIM905


def _looks_propositional(type_text: str, names: Sequence[str]) -> bool:
    """A binder that is (probably) a hypothesis, not data: named like one, or its type has a relation."""
    if any(n.startswith(("h", "H")) for n in names):
        return True
    return any(t.kind == SYMBOL and t.text in _PROP_SYMBOLS for t in code_tokens(type_text))


def looks_propositional(type_text: str, names: Sequence[str] = ()) -> bool:
    return _looks_propositional(type_text, names)


def context_names(keys: Iterable[str], namespace: str = "") -> frozenset[str]:
    """What a theorem is about, for `PremiseIndex.namespace_score`: its keys, the namespaces of the types it
    writes with notation (ℕ → Nat, ℝ≥0∞ → ENNReal …) and the components of its own namespace."""
    ks = set(keys)
    out = set(ks)
    out |= {TYPE_NAMESPACES[k] for k in ks if k in TYPE_NAMESPACES}
    if namespace:
        out |= set(namespace.split("."))
    return frozenset(out)


# ---------------------------------------------------------------------------------------------------
# The index


@dataclass(frozen=True, slots=True)
class Match:
    premise: int  # index into the premises the index was built from
    reverse: bool  # `rw [← T]` (rewrite with the right side)
    score: float


@dataclass
class PremiseIndex:
    """Rewrite sides and apply shapes of a list of premises, with key weights; see the module docstring."""

    names: list[str]
    vocab: dict[str, int]
    weight: np.ndarray  # per key: inverse document frequency
    rows: sp.csr_matrix  # rewrite sides × keys, entries = weight
    row_premise: np.ndarray
    row_reverse: np.ndarray
    row_total: np.ndarray  # Σ weight of the side's keys
    apply_rows: sp.csr_matrix  # conclusions × keys
    apply_premise: np.ndarray
    apply_total: np.ndarray
    apply_head: np.ndarray  # key id of the head (-1: none)
    ns_vocab: dict[str, int] = field(default_factory=dict)
    ns_rows: sp.csr_matrix | None = None  # premises × namespace components (`Finset.card_union` → Finset)
    alpha: float = 1.0
    stats: dict[str, int] = field(default_factory=dict)

    # -- building ---------------------------------------------------------------------------------

    @classmethod
    def build(cls, names: Sequence[str], statements: Sequence[str], *, alpha: float = 1.0,
              apply_min_hypotheses: int = 1) -> PremiseIndex:
        """Index ``statements`` (``theorem NAME … : …`` texts) under ``names``."""
        shapes = [premise_shape(s) for s in statements]
        df: dict[str, int] = {}
        for sh in shapes:
            if sh is None:
                continue
            for k in sh.conclusion | (sh.forward or frozenset()) | (sh.reverse or frozenset()):
                df[k] = df.get(k, 0) + 1
        vocab = {k: i for i, k in enumerate(sorted(df))}
        n = max(1, sum(1 for s in shapes if s is not None))
        weight = np.array([math.log((n + 1) / (df[k] + 0.5)) for k in sorted(df)], dtype=np.float32)
        r_ind: list[int] = []
        r_ptr = [0]
        r_prem: list[int] = []
        r_rev: list[bool] = []
        a_ind: list[int] = []
        a_ptr = [0]
        a_prem: list[int] = []
        a_head: list[int] = []
        stats = {"premises": len(statements), "unreadable": 0, "sides": 0, "sides_without_keys": 0, "apply": 0}
        for i, sh in enumerate(shapes):
            if sh is None:
                stats["unreadable"] += 1
                continue
            for rev, side in ((False, sh.forward), (True, sh.reverse)):
                if side is None:
                    continue
                if not side:  # `a` alone (`← mul_one a`): matches every term, too unspecific to try everywhere
                    stats["sides_without_keys"] += 1
                    continue
                r_ind.extend(vocab[k] for k in sorted(side))
                r_ptr.append(len(r_ind))
                r_prem.append(i)
                r_rev.append(rev)
                stats["sides"] += 1
            if sh.hypotheses >= apply_min_hypotheses and sh.conclusion and sh.head is not None:
                a_ind.extend(vocab[k] for k in sorted(sh.conclusion))
                a_ptr.append(len(a_ind))
                a_prem.append(i)
                a_head.append(vocab.get(sh.head, -1))
                stats["apply"] += 1
        ns_vocab: dict[str, int] = {}
        n_ind: list[int] = []
        n_ptr = [0]
        for name in names:
            for comp in dict.fromkeys(name.split(".")[:-1]):
                n_ind.append(ns_vocab.setdefault(comp, len(ns_vocab)))
            n_ptr.append(len(n_ind))
        ns_rows = sp.csr_matrix(
            (np.ones(len(n_ind), dtype=np.float32), np.asarray(n_ind, dtype=np.int32), np.asarray(n_ptr)),
            shape=(len(names), max(1, len(ns_vocab))),
        )
        v = len(vocab)
        r_ind_a = np.asarray(r_ind, dtype=np.int32)
        rows = sp.csr_matrix((weight[r_ind_a], r_ind_a, np.asarray(r_ptr, dtype=np.int64)), shape=(len(r_prem), v))
        a_ind_a = np.asarray(a_ind, dtype=np.int32)
        arows = sp.csr_matrix((weight[a_ind_a], a_ind_a, np.asarray(a_ptr, dtype=np.int64)), shape=(len(a_prem), v))
        return cls(
            names=list(names),
            vocab=vocab,
            weight=weight,
            rows=rows,
            row_premise=np.asarray(r_prem, dtype=np.int32),
            row_reverse=np.asarray(r_rev, dtype=bool),
            row_total=np.asarray(rows.sum(axis=1)).ravel().astype(np.float32),
            apply_rows=arows,
            apply_premise=np.asarray(a_prem, dtype=np.int32),
            apply_total=np.asarray(arows.sum(axis=1)).ravel().astype(np.float32),
            apply_head=np.asarray(a_head, dtype=np.int32),
            ns_vocab=ns_vocab,
            ns_rows=ns_rows,
            alpha=alpha,
            stats=stats,
        )

    # -- queries ----------------------------------------------------------------------------------

    def namespace_score(self, context: Iterable[str], weight: float) -> np.ndarray:
        """Per premise: ``+weight`` when a component of its namespace is in ``context`` (the target's constants
        and types, see `context_names`), ``-weight`` when it has a namespace and none is (``Nat.succ_le`` is about
        ℕ: it cannot rewrite a statement without natural numbers), ``0`` for root names (``mul_comm``)."""
        n = len(self.names)
        if self.ns_rows is None or not weight:
            return np.zeros(n, dtype=np.float32)
        ids = [self.ns_vocab[c] for c in set(context) if c in self.ns_vocab]
        vec = np.zeros(self.ns_rows.shape[1], dtype=np.float32)
        vec[ids] = 1.0
        overlap = (self.ns_rows @ vec) > 0
        has_ns = np.diff(self.ns_rows.indptr) > 0
        return (weight * overlap - weight * (has_ns & ~overlap)).astype(np.float32)

    def rows_of(self, premise: int) -> range:
        """The rewrite sides of ``premise`` (rows are stored in premise order)."""
        lo, hi = np.searchsorted(self.row_premise, [premise, premise + 1])
        return range(int(lo), int(hi))

    def query_vector(self, keys: Iterable[str]) -> sp.csr_matrix:
        ids = sorted({self.vocab[k] for k in keys if k in self.vocab})
        data = np.ones(len(ids), dtype=np.float32)
        return sp.csr_matrix((data, np.asarray(ids, dtype=np.int32), [0, len(ids)]), shape=(1, len(self.vocab)))

    def side_scores(self, queries: sp.csr_matrix) -> sp.csr_matrix:
        """Shared weight of every side with every query (rows: sides, columns: queries), sparse."""
        return (self.rows @ queries.T).tocsc()

    def rewrites(self, keys: Iterable[str], k: int, accessible: np.ndarray | None = None,
                 prior: np.ndarray | None = None) -> list[Match]:
        """The best ``k`` (premise, direction) rewrite rules for a target with these keys."""
        col = self.side_scores(self.query_vector(keys))
        return self.top_rewrites(col.indices, col.data, k, accessible, prior=prior)

    def score(self, rows: np.ndarray, shared: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
        """Scores of the sides ``rows`` sharing weight ``shared`` with a target (plus a per-premise prior)."""
        s = shared - self.alpha * (self.row_total[rows] - shared)
        if prior is not None:
            s = s + prior[self.row_premise[rows]]
        return s

    def top_rewrites(self, rows: np.ndarray, shared: np.ndarray, k: int, accessible: np.ndarray | None = None,
                     prior: np.ndarray | None = None) -> list[Match]:
        """Rank the sides ``rows`` that share weight ``shared`` with one target; best ``k`` (premise, direction)."""
        if len(rows) == 0 or k <= 0:
            return []
        if accessible is not None:
            keep = accessible[self.row_premise[rows]]
            rows, shared = rows[keep], shared[keep]
            if not len(rows):
                return []
        score = self.score(rows, shared, prior)
        m = min(len(rows), 2 * k)  # a premise has at most two sides: 2k sides hold the best k (premise, dir)
        part = np.argpartition(-score, m - 1)[:m] if m < len(rows) else np.arange(len(rows))
        part = part[np.lexsort((rows[part], -score[part]))]  # best first; ties by index order
        out: list[Match] = []
        seen: set[tuple[int, bool]] = set()
        for j in part:
            key = (int(self.row_premise[rows[j]]), bool(self.row_reverse[rows[j]]))
            if key in seen:
                continue
            seen.add(key)
            out.append(Match(key[0], key[1], float(score[j])))
            if len(out) >= k:
                break
        return out

    def applies(self, keys: Iterable[str], head: str | None, k: int, accessible: np.ndarray | None = None,
                prior: np.ndarray | None = None) -> list[Match]:
        """The best ``k`` premises to ``apply`` to a hypothesis with these keys and head (same head required)."""
        if head is None or head not in self.vocab or k <= 0:
            return []
        cand = np.flatnonzero(self.apply_head == self.vocab[head])
        if accessible is not None and len(cand):
            cand = cand[accessible[self.apply_premise[cand]]]
        if not len(cand):
            return []
        q = self.query_vector(keys)
        shared = np.asarray((self.apply_rows[cand] @ q.T).todense()).ravel()
        score = shared - self.alpha * (self.apply_total[cand] - shared)
        if prior is not None:
            score = score + prior[self.apply_premise[cand]]
        order = np.lexsort((cand, -score))[:k]
        return [Match(int(self.apply_premise[cand[j]]), False, float(score[j])) for j in order]
