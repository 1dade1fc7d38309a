"""`ProofAttempt`: the outcome of one attempt at one theorem, as the agent returns it and batch stores it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from prover.lean.types import Theorem

Status = Literal["proved", "failed", "timeout", "error"]

# Prefix of ``error`` when Lean rejected the statement itself: retrying cannot help (batch runs skip it).
STATEMENT_REJECTED = "Lean rejected the statement"


@dataclass
class ProofAttempt:
    theorem: Theorem
    status: Status  # proved: passed the soundness gate; failed: budget spent; error: Lean/infra failure
    proof: str | None = None  # the whole theorem text (statement + proof) that passed the gate
    error: str | None = None  # one line, for status "error" / "timeout"
    time: float = 0.0  # wall seconds
    expansions: int = 0
    lean_calls: int = 0
    seed: int = 0
    lean_version: str | None = None  # which Lean/Mathlib checked the proof
    verified_by: str | None = None  # which mode checked it: "repl" (the REPL gate) or "strict" (then the checker)
    graph: Any = field(default=None, repr=False)  # search.graph.SearchGraph, not persisted by batch
    mode: str = "step"  # step | whole | repair | hybrid | sketch
    stage: str | None = None  # whole-proof modes: what closed the proof (repair.loop.STAGES)
    samples: int = 0  # whole proofs sampled (sub-lemmas included), as APOLLO counts its budget
    tokens: int = 0  # prompt + completion tokens of those samples
    stats: dict[str, Any] = field(default_factory=dict)  # per-mode details (candidates, rounds, goals left, ...)

    @property
    def proved(self) -> bool:
        return self.status == "proved"
