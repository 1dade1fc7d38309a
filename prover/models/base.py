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


@dataclass(frozen=True, slots=True)
class StepContext:
    """What some step-prover prompts show besides the goals (InternLM2.5-StepProver: the theorem's name and
    the tactics applied so far). Optional: a generator given none uses empty values."""

    theorem_name: str = ""
    proof_before: tuple[str, ...] = ()


@runtime_checkable
class TacticGenerator(Protocol):
    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None,
        n: int,
    ) -> list[list[Candidate]]:
        """For each pretty-printed goal state, up to ``n`` distinct candidates, best first.

        The generators of `prover.models` also accept a keyword ``contexts: Sequence[StepContext | None]``
        (one per state) for prompt formats that show the theorem name / previous tactics.
        """
        ...


@runtime_checkable
class Critic(Protocol):
    def score(self, states: Sequence[str]) -> list[float]:
        """Higher is more promising (e.g. minus the expected number of steps to ``no goals``)."""
        ...
