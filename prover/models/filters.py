"""Candidate filters shared by every backend: unsound tactics out, duplicates out, best first."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from prover.models.base import Candidate

# `decide +native` and `decide (config := {native := true})` are native_decide by another name.
NATIVE_DECIDE = ("native_decide", "+native", "native := true", "ofReduceBool")

T = TypeVar("T")


def normalize_tactic(tactic: str) -> str:
    """Whitespace-normalised text, the key under which duplicates are recognised."""
    return " ".join(tactic.split())


class TacticFilter:
    """Drops empty tactics and those containing a banned word (plain substring match, as BFS-Prover does,
    so ``sorryAx`` is caught too)."""

    def __init__(self, banned: Iterable[str] = ("sorry", "admit"), allow_native_decide: bool = False) -> None:
        words = [w for w in banned if w]
        if not allow_native_decide:
            words += list(NATIVE_DECIDE)
        self.banned = tuple(dict.fromkeys(words))

    def allowed(self, tactic: str) -> bool:
        return bool(tactic.strip()) and not any(w in tactic for w in self.banned)


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
    raw: Iterable[Iterable[tuple[str, float, int]]],
    n: int,
    *,
    extract: Callable[[str], str],
    rank_by: str = "sum",
    tactic_filter: TacticFilter | None = None,
) -> list[list[Candidate]]:
    """A model backend's post-processing: for each prompt's raw completions ``(text, sum log-prob, tokens)``,
    the tactic ``extract(text)`` as a `Candidate`, then `select` (filtered, deduplicated, best ``n`` first)."""
    return [
        select([make_candidate(extract(text), lp, k) for text, lp, k in per_prompt], n, rank_by, tactic_filter)
        for per_prompt in raw
    ]
