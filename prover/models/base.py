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


@runtime_checkable
class Critic(Protocol):
    def score(self, states: Sequence[str]) -> list[float]:
        """Higher is more promising (e.g. minus the expected number of steps to ``no goals``)."""
        ...
