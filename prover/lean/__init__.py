"""Talking to Lean 4: REPL client and process pool, timeouts, soundness gate, record/replay, LeanDojo.

This layer knows nothing about search or models.
"""

from prover.lean.types import (
    CheckResult,
    CommandResult,
    LeanCrashed,
    LeanError,
    LeanException,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    Message,
    Pos,
    ProofFinished,
    Sorry,
    TacticResult,
    TacticState,
    Theorem,
)

__all__ = [
    "CheckResult",
    "CommandResult",
    "LeanCrashed",
    "LeanError",
    "LeanException",
    "LeanInputError",
    "LeanSetupError",
    "LeanTimeout",
    "Message",
    "Pos",
    "ProofFinished",
    "Sorry",
    "TacticResult",
    "TacticState",
    "Theorem",
]
