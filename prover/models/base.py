"""`TacticGenerator`, `ProofGenerator` and `Critic`: the protocols every model backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from prover.lean.types import Message, Theorem
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

    def close(self) -> None:
        """Free what the backend holds (weights, processes, connections); a no-op where it holds nothing."""
        ...


@dataclass(frozen=True, slots=True)
class ProofCandidate:
    """One whole proof sampled for a theorem.

    ``text`` is the Lean code taken from the model's answer (the last Lean block: the theorem with its proof,
    possibly after helper lemmas), ``""`` when none could be taken; ``problem`` is then a one-line reason, and it
    is also set when the text is unusable for another reason found without Lean (the statement differs from the
    trusted one, a forbidden command). Nothing here is checked by Lean: the text still goes through the gate.
    ``raw`` is the model's whole answer (chain of thought included), kept for debugging and for a
    self-correction turn. ``logprob`` is the sum over the completion's tokens, ``mean_logprob`` the per-token
    mean (0.0 when the backend returns none); ``prompt_tokens`` / ``completion_tokens`` count the sampling
    budget as the model papers do; ``truncated`` says the answer hit the token limit before its end.
    """

    text: str
    raw: str
    logprob: float = 0.0
    mean_logprob: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return bool(self.text) and self.problem is None


@dataclass(frozen=True, slots=True)
class ProofFeedback:
    """Lean's verdict on an earlier attempt, for a self-correction turn (Goedel-Prover-V2, Kimina-Prover).

    ``proof`` is the exact text Lean checked (``messages`` positions refer to it: 1-based lines, code-point
    columns), ``raw`` the model's whole answer that produced it (the assistant turn the correction follows;
    ``""`` when unknown), ``earlier`` the feedback of the rounds before this one on the same theorem, oldest
    first (the conversation is replayed in that order; this is round ``len(earlier) + 1``).
    """

    proof: str
    messages: tuple[Message, ...]
    raw: str = ""
    earlier: tuple[ProofFeedback, ...] = ()

    @property
    def round(self) -> int:
        return len(self.earlier) + 1


@runtime_checkable
class ProofGenerator(Protocol):
    def generate(
        self,
        theorems: Sequence[Theorem],
        n: int,
        *,
        feedback: Sequence[ProofFeedback | None] | None = None,
        seed: int | None = None,
    ) -> list[list[ProofCandidate]]:
        """For each theorem, ``n`` sampled whole proofs (one entry per sample, unusable ones included, so the
        sampling budget is what was spent). ``feedback`` (one per theorem, or None) turns the request into a
        self-correction turn on a previous attempt; ``seed`` makes sampling reproducible where the backend can.
        Raises `GenerationError` when the backend fails (not for a bad answer: that is a candidate's ``problem``).
        """
        ...

    def close(self) -> None:
        """Free what the backend holds (weights, processes, connections); a no-op where it holds nothing."""
        ...


@runtime_checkable
class Critic(Protocol):
    def score(self, states: Sequence[str]) -> list[float]:
        """Higher is more promising (e.g. minus the expected number of steps to ``no goals``)."""
        ...

    def close(self) -> None:
        """Free what the backend holds (weights, processes, connections); a no-op where it holds nothing."""
        ...


def context_seeds(contexts: Sequence[StepContext | None] | None, count: int, default: int | None) -> list[int | None]:
    """The sampling seed of each of ``count`` states: its context's ``seed``, else ``default`` (the backend's
    configured ``generator.seed``)."""
    if contexts is None:
        return [default] * count
    return [c.seed if c is not None and c.seed is not None else default for c in contexts]
