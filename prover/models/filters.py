"""Candidate filters shared by every backend: unsound tactics out, duplicates out, best first."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, TypeVar

from prover.models.base import Candidate

# `decide +native` and `decide (config := {native := true})` are native_decide by another name.
NATIVE_DECIDE = ("native_decide", "+native", "native := true", "ofReduceBool")

T = TypeVar("T")

# BFS-Prover-V2's filter of tactics its model writes but Lean wastes time on (``src/search/prover_manager.py``):
# ``rcases`` / ``cases'`` / ``simpa`` with a ``?_`` hole, and ``simpa`` with a ``_`` placeholder argument.
_HOLE_KEYWORDS = ("rcases", "cases'", "simpa")
_SIMPA_PLACEHOLDERS = (" _", "_ ", "_,", ",_")


def degenerate(tactic: str) -> bool:
    """A tactic BFS-Prover-V2's search drops before running it (see ``_HOLE_KEYWORDS``)."""
    if "?_" in tactic and any(k in tactic for k in _HOLE_KEYWORDS):
        return True
    return "simpa" in tactic and any(p in tactic for p in _SIMPA_PLACEHOLDERS)


def normalize_tactic(tactic: str) -> str:
    """Whitespace-normalised text, the key under which duplicates are recognised."""
    return " ".join(tactic.split())


class TacticFilter:
    """Drops empty tactics and those containing a banned word (plain substring match, as BFS-Prover does,
    so ``sorryAx`` is caught too); with ``drop_degenerate``, also BFS-Prover-V2's `degenerate` tactics."""

    def __init__(
        self,
        banned: Iterable[str] = ("sorry", "admit"),
        allow_native_decide: bool = False,
        drop_degenerate: bool = False,
    ) -> None:
        words = [w for w in banned if w]
        if not allow_native_decide:
            words += list(NATIVE_DECIDE)
        self.banned = tuple(dict.fromkeys(words))
        self.drop_degenerate = drop_degenerate

    def allowed(self, tactic: str) -> bool:
        if not tactic.strip() or any(w in tactic for w in self.banned):
            return False
        return not (self.drop_degenerate and degenerate(tactic))


class Completion(NamedTuple):
    """One raw completion from a backend: text (stop strings cut off), summed raw log-prob, generated tokens,
    whether it ended on its own (EOS or a stop string; False: cut by the token limit) and the prompt's tokens."""

    text: str
    logprob: float
    num_tokens: int
    finished: bool = True
    prompt_tokens: int = 0


def make_candidate(tactic: str, logprob: float, num_tokens: int) -> Candidate:
    """A candidate with ``mean_logprob = logprob / num_tokens`` (``logprob`` itself when no tokens are known)."""
    logprob = float(logprob)
    if math.isnan(logprob):
        logprob = -math.inf
    mean = logprob / num_tokens if num_tokens > 0 else logprob
    return Candidate(tactic=tactic, logprob=logprob, mean_logprob=mean, num_tokens=int(num_tokens))


def dedupe(items: Iterable[T], key: Callable[[T], str], *, drop_empty: bool = True) -> Iterator[T]:
    """The first item of each whitespace-normalised ``key(item)``, in order (empty keys dropped unless told)."""
    seen: set[str] = set()
    for item in items:
        k = normalize_tactic(key(item))
        if (drop_empty and not k) or k in seen:
            continue
        seen.add(k)
        yield item


def select(
    candidates: Sequence[Candidate],
    n: int,
    rank_by: str = "sum",
    tactic_filter: TacticFilter | None = None,
) -> list[Candidate]:
    """Filter, sort best first by ``rank_by`` ("sum" or "mean" log-prob; stable), dedupe and keep ``n``."""
    key = (lambda c: c.mean_logprob) if rank_by == "mean" else (lambda c: c.logprob)
    ranked = sorted(candidates, key=key, reverse=True)
    allowed = (c for c in ranked if tactic_filter is None or tactic_filter.allowed(c.tactic))
    out: list[Candidate] = []
    for c in dedupe(allowed, lambda c: c.tactic):
        out.append(c)
        if len(out) >= n:
            break
    return out


def select_completions(
    raw: Iterable[Iterable[Completion]],
    n: int,
    *,
    extract: Callable[[str], str],
    rank_by: str = "sum",
    tactic_filter: TacticFilter | None = None,
) -> list[list[Candidate]]:
    """A model backend's post-processing: for each prompt's raw completions, the tactic ``extract(text)`` as a
    `Candidate`, then `select` (filtered, deduplicated, best ``n`` first). Completions cut by the token limit
    are dropped: a tactic that never ended is not a tactic (ReProver kept such beams; they only waste Lean
    calls)."""
    return [
        select([make_candidate(extract(c.text), c.logprob, c.num_tokens) for c in per if c.finished], n, rank_by,
               tactic_filter)
        for per in raw
    ]
