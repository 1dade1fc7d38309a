"""`TacticGenerator` and `Critic`: the protocols every model backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from retrieval.base import Premise


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed tactic. ``logprob`` is the sum over its tokens, ``mean_logprob`` the per-token mean."""

    tactic: str
    logprob: float
    mean_logprob: float
    num_tokens: int = 0


@runtime_checkable
class TacticGenerator(Protocol):
    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None,
        n: int,
    ) -> list[list[Candidate]]:
        """For each pretty-printed goal state, up to ``n`` distinct candidates, best first."""
        ...


@runtime_checkable
class Critic(Protocol):
    def score(self, states: Sequence[str]) -> list[float]:
        """Higher is more promising (e.g. minus the expected number of steps to ``no goals``)."""
        ...
