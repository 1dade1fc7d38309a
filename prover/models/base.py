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
    """What a generator is told about one state besides its goals.

    ``theorem_name`` and ``proof_before`` (the tactics applied so far) are shown by some prompt formats
    (InternLM2.5-StepProver). ``seed`` is the sampling seed of the attempt this state belongs to (None:
    unseeded). A missing context means empty values and no seed.
    """

    theorem_name: str = ""
    proof_before: tuple[str, ...] = ()
    seed: int | None = None


@runtime_checkable
class TacticGenerator(Protocol):
    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None,
        n: int,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        """For each pretty-printed goal state, up to ``n`` distinct candidates, best first.

        ``premises`` and ``contexts`` are None or one entry per state. Every backend takes ``contexts``
        (the search always passes them) and must give state ``i`` the candidates its own context asks for,
        whatever else is in the call: a wrapper that merges the calls of several attempts
        (`prover.batch.runner.BatchingGenerator`, the Ray generator proxy) concatenates the contexts, so
        the prompt and the seed of a state do not depend on how calls were merged. A sampling backend
        seeds state ``i`` with ``contexts[i].seed`` where it can, and says in its docstring where it can't.
        """
        ...


@runtime_checkable
class Critic(Protocol):
    def score(self, states: Sequence[str]) -> list[float]:
        """Higher is more promising (e.g. minus the expected number of steps to ``no goals``)."""
        ...


def context_seeds(contexts: Sequence[StepContext | None] | None, count: int, default: int | None) -> list[int | None]:
    """The sampling seed of each of ``count`` states: its context's ``seed``, else ``default`` (the backend's
    configured ``generator.seed``)."""
    if contexts is None:
        return [default] * count
    return [c.seed if c is not None and c.seed is not None else default for c in contexts]
