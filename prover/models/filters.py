"""Candidate filters shared by every backend: unsound tactics out, duplicates out, best first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from prover.models.base import Candidate

# `decide +native` and `decide (config := {native := true})` are native_decide by another name.
NATIVE_DECIDE = ("native_decide", "+native", "native := true", "ofReduceBool")


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


def select(
    candidates: Sequence[Candidate],
    n: int,
    rank_by: str = "sum",
    tactic_filter: TacticFilter | None = None,
) -> list[Candidate]:
    """Filter, sort best first by ``rank_by`` ("sum" or "mean" log-prob; stable), dedupe and keep ``n``."""
    key = (lambda c: c.mean_logprob) if rank_by == "mean" else (lambda c: c.logprob)
    out: list[Candidate] = []
    seen: set[str] = set()
    for c in sorted(candidates, key=key, reverse=True):
        if tactic_filter is not None and not tactic_filter.allowed(c.tactic):
            continue
        k = normalize_tactic(c.tactic)
        if not k or k in seen:
            continue
        seen.add(k)
        out.append(c)
        if len(out) >= n:
            break
    return out
