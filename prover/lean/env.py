"""The `LeanEnv` protocol: what search, repair and batch runs need from any Lean backend."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from prover.lean.types import CheckResult, Elaboration, TacticResult, TacticState, Theorem


@runtime_checkable
class LeanEnv(Protocol):
    """A Lean backend (REPL, LeanDojo, replay). Use as a context manager; close() frees processes.

    ``start`` raises `LeanInputError` when Lean rejects the statement; ``run_tactic`` returns a
    `LeanError` for a failing tactic and raises `LeanTimeout` / `LeanCrashed` for infrastructure faults.
    ``lean_calls`` counts the requests sent to Lean so far (what Lean-call budgets charge; header replays
    after a restart included).
    """

    lean_calls: int

    def start(self, theorem: Theorem) -> TacticState: ...

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult: ...

    def check(self, theorem: Theorem, proof_text: str) -> CheckResult:
        """Soundness gate: re-check the whole ``proof_text`` (statement + proof) in a fresh env."""
        ...

    def reset(self) -> None:
        """Forget every state handed out so far: the caller moves on to another theorem (the env may
        drop those states and recycle its process)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> LeanEnv: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class TextEnv(LeanEnv, Protocol):
    """A `LeanEnv` that also elaborates whole texts and hands out the proof states of their sorries (the REPL
    does; the repair loop needs it). ``elaborate`` runs ``text`` (declarations, no imports) in a fresh env
    from ``theorem.header``; positions in the answer are relative to ``text``."""

    def elaborate(self, theorem: Theorem, text: str, timeout: float | None = None) -> Elaboration: ...
