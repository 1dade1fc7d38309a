"""The automation portfolio (no model) and its combination with a model backend."""

from __future__ import annotations

from collections.abc import Sequence

from prover.models.base import Candidate, StepContext, TacticGenerator
from prover.models.config import DEFAULT_AUTOMATION
from prover.models.filters import TacticFilter, dedupe, make_candidate
from retrieval.base import Premise


class AutomationGenerator:
    """Proposes the same fixed list of automation tactics (``rfl``, ``omega``, ``aesop``, ...) for every state.

    Each gets ``logprob`` (default -1.0) as its score; the list order is the preference order. ``n`` does not
    cut the portfolio (it is tried whole), unless ``respect_n`` is set.
    """

    def __init__(
        self,
        tactics: Sequence[str] = DEFAULT_AUTOMATION,
        logprob: float = -1.0,
        tactic_filter: TacticFilter | None = None,
        respect_n: bool = False,
    ) -> None:
        filt = tactic_filter if tactic_filter is not None else TacticFilter()
        self.tactics = [t.strip() for t in dedupe((t for t in tactics if filt.allowed(t)), str)]
        self.logprob = float(logprob)
        self.respect_n = respect_n

    def close(self) -> None:
        """Holds nothing to free."""

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        n: int = 8,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        tactics = self.tactics[:n] if self.respect_n else self.tactics
        return [[make_candidate(t, self.logprob, 1) for t in tactics] for _ in states]


class CombinedGenerator:
    """A model generator plus the automation portfolio: up to ``n`` model candidates, then the portfolio's
    tactics the model did not already propose (or the portfolio first, with ``automation_first``)."""

    def __init__(self, model: TacticGenerator, automation: AutomationGenerator, automation_first: bool = False):
        self.model = model
        self.automation = automation
        self.automation_first = automation_first

    def close(self) -> None:
        self.model.close()

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        n: int = 8,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        from_model = self.model.generate(states, premises, n, contexts=contexts)
        from_auto = self.automation.generate(states, premises, n)
        out = []
        for m, a in zip(from_model, from_auto, strict=True):
            first, second = (a, m) if self.automation_first else (m, a)
            out.append(list(dedupe([*first, *second], lambda c: c.tactic, drop_empty=False)))
        return out
