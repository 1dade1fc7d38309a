"""Plain result types of the Lean layer and the parsers that turn REPL answers into them.

The shapes follow LeanDojo (`TacticState`, `ProofFinished`, `LeanError`) and the semantics follow the
REPL's real answers (see ``../shared/fixtures/repl``):

* a tactic step is finished only when ``proofStatus == "Completed"``;
* ``goals: []`` together with an error message, or with ``"Incomplete: contains sorry"``, is an error;
* a ``{"message": ...}`` answer (unknown env / proof state, parse error, tactic exception) is an error;
* positions are 1-based lines and 0-based columns counted in Unicode code points (Lean's own convention,
  which is also what ``file:line:col`` diagnostics print).

Infrastructure failures are exceptions, never results: a search treats a `LeanError` as a failed edge
but a `LeanCrashed` / `LeanTimeout` as something that went wrong around Lean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

# ---------------------------------------------------------------------------------------------------
# Exceptions: infrastructure failures (the request may be fine, Lean or the process around it is not).


class LeanException(Exception):
    """Base class of everything the Lean layer raises."""


class LeanSetupError(LeanException):
    """Lean, lake, the REPL binary or the project is missing, mismatched or fails to start."""


class LeanCrashed(LeanException):
    """The REPL process died, closed its output or answered something that is not the protocol."""


class LeanTimeout(LeanException):
    """A request did not answer within its time limit; the process was killed and restarted."""


class LeanInputError(LeanException):
    """Lean rejected the input itself (e.g. a theorem statement that does not elaborate)."""


# ---------------------------------------------------------------------------------------------------
# Messages and positions


@dataclass(frozen=True, slots=True)
class Pos:
    line: int  # 1-based
    column: int  # 0-based, Unicode code points

    @classmethod
    def from_json(cls, obj: dict[str, Any] | None) -> Pos | None:
        if not obj:
            return None
        return cls(int(obj["line"]), int(obj["column"]))


Severity: TypeAlias = Literal["error", "warning", "info", "information"]


@dataclass(frozen=True, slots=True)
class Message:
    severity: str
    data: str
    pos: Pos | None = None
    end_pos: Pos | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Message:
        return cls(
            severity=str(obj.get("severity", "error")),
            data=str(obj.get("data", "")),
            pos=Pos.from_json(obj.get("pos")),
            end_pos=Pos.from_json(obj.get("endPos")),
        )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self, file: str = "<input>", line_offset: int = 0) -> str:
        """``file:line:col: severity: text`` like Lean's own command line (column 0-based)."""
        where = f"{file}:{self.pos.line + line_offset}:{self.pos.column}" if self.pos else file
        return f"{where}: {self.severity}: {self.data}"


@dataclass(frozen=True, slots=True)
class Sorry:
    """A ``sorry`` Lean found; in command mode its ``proof_state`` can be driven by tactics."""

    goal: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Sorry:
        ps = obj.get("proofState")
        return cls(
            goal=str(obj.get("goal", "")),
            proof_state=int(ps) if ps is not None else None,
            pos=Pos.from_json(obj.get("pos")),
            end_pos=Pos.from_json(obj.get("endPos")),
        )


@dataclass(frozen=True, slots=True)
class TacticInfo:
    """One entry of ``allTactics``: a tactic of the source with the goals before it."""

    tactic: str
    goals: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None
    used_constants: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TacticInfo:
        ps = obj.get("proofState")
        return cls(
            tactic=str(obj.get("tactic", "")),
            goals=str(obj.get("goals", "")),
            proof_state=int(ps) if ps is not None else None,
            pos=Pos.from_json(obj.get("pos")),
            end_pos=Pos.from_json(obj.get("endPos")),
            used_constants=tuple(obj.get("usedConstants", ())),
        )


# ---------------------------------------------------------------------------------------------------
# Tactic-mode results


@dataclass(frozen=True, slots=True)
class TacticState:
    """Open goals after a tactic. Two states are equal when Lean pretty-prints them the same."""

    pp: str
    id: int = field(compare=False)
    goals: tuple[str, ...] = field(default=(), compare=False)
    messages: tuple[Message, ...] = field(default=(), compare=False)

    @classmethod
    def of_goals(cls, goals: list[str] | tuple[str, ...], id: int, messages: tuple[Message, ...] = ()) -> TacticState:
        goals = tuple(goals)
        return cls(pp="\n\n".join(goals), id=id, goals=goals, messages=messages)

    @property
    def num_goals(self) -> int:
        return len(self.goals)


@dataclass(frozen=True, slots=True)
class ProofFinished:
    """``proofStatus == "Completed"``: no goals, no sorry, no error, kernel-checked by the REPL."""

    id: int | None = None
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class LeanError:
    """The tactic failed (or left the proof unsound); ``error`` is Lean's text, or the cause in words.

    When the cause is a ``sorry``, ``sorries`` holds the goals each sorry stood for (with their proof states)
    and ``goals`` the goals that remained after the tactic, as Lean reported them.
    """

    error: str
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    goals: tuple[str, ...] = ()


TacticResult: TypeAlias = TacticState | ProofFinished | LeanError


def parse_tactic_response(obj: dict[str, Any]) -> TacticResult:
    """Classify the REPL's answer to a ``tactic`` (or proof-state ``pickleTo``/``unpickle``) request."""
    if "message" in obj and "proofState" not in obj:
        return LeanError(str(obj["message"]))
    messages = tuple(Message.from_json(m) for m in obj.get("messages", ()))
    errors = [m.data for m in messages if m.is_error]
    status = obj.get("proofStatus")
    goals = list(obj.get("goals", []))
    ps = obj.get("proofState")
    if errors:
        return LeanError("\n".join(errors), messages)
    sorries = tuple(Sorry.from_json(x) for x in obj.get("sorries", ()))
    if sorries or (status is not None and "sorry" in status):
        # the cause is the sorry, whatever else the status says ("Incomplete: open goals remain" with goals)
        n = len(sorries)
        why = f"the tactic uses sorry ({n} sorr{'y' if n == 1 else 'ies'})" if n else "the proof contains sorry"
        if goals:
            why += f"; {len(goals)} goal(s) remain"
        return LeanError(why, messages, sorries, tuple(goals))
    if status is not None and status.startswith("Error"):
        return LeanError(status, messages)
    if goals:
        return TacticState.of_goals(goals, int(ps), messages)
    # No goals left. Older REPLs had no proofStatus; then "no goals, no error, no sorry" is finished.
    if status is None or status == "Completed":
        return ProofFinished(int(ps) if ps is not None else None, messages)
    return LeanError(status, messages)  # e.g. "Incomplete: contains metavariable(s)"


# ---------------------------------------------------------------------------------------------------
# Command-mode results


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Answer to ``cmd`` / ``path`` / env pickling. ``error`` is set for ``{"message": ...}`` answers."""

    env: int | None
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    tactics: tuple[TacticInfo, ...] = ()
    infotree: Any = None
    error: str | None = None

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)

    @property
    def ok(self) -> bool:
        """Lean accepted the command: no protocol error and no error message (sorries allowed)."""
        return self.error is None and not self.errors


def parse_command_response(obj: dict[str, Any]) -> CommandResult:
    if "message" in obj and "env" not in obj:
        return CommandResult(env=None, error=str(obj["message"]))
    env = obj.get("env")
    return CommandResult(
        env=int(env) if env is not None else None,
        messages=tuple(Message.from_json(m) for m in obj.get("messages", ())),
        sorries=tuple(Sorry.from_json(s) for s in obj.get("sorries", ())),
        tactics=tuple(TacticInfo.from_json(t) for t in obj.get("tactics", ())),
        infotree=obj.get("infotree"),
    )


@dataclass(frozen=True, slots=True)
class Elaboration:
    """Lean's answer to a text elaborated as one command in a theorem's header env (`TextEnv.elaborate`):
    its messages and sorries (positions relative to the text) and, for each sorry, a `TacticState` handle on
    its proof state (None when Lean gave none), usable with ``run_tactic`` like any other state."""

    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    states: tuple[TacticState | None, ...] = ()
    error: str | None = None  # a protocol error (``{"message": ...}``)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)


# ---------------------------------------------------------------------------------------------------
# Whole-text checks (the soundness gate) and theorems


DEFAULT_ALLOWED_AXIOMS: frozenset[str] = frozenset({"propext", "Classical.choice", "Quot.sound"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of re-checking a whole theorem text in a fresh env from its header."""

    sound: bool
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    axioms: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # why it is not sound, one line each
    lean_version: str | None = None
    verified_by: str = "repl"  # "repl": the REPL gate; "strict": the gate, then the independent checker


@dataclass(frozen=True, slots=True)
class Theorem:
    """A theorem to prove: ``header`` (imports, options, opens) + ``statement`` (ends in ``:=`` or ``:= by``)."""

    name: str
    statement: str
    header: str = ""
    source: str = ""  # benchmark:split, or file path[:line]
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_proof(self, proof: str) -> str:
        """The statement completed by ``proof`` (a tactic block body, without ``by``)."""
        stmt = self.statement.rstrip()
        if not _ENDS_BY.search(stmt):
            stmt += " by"
        body = "\n".join("  " + line if line.strip() else line for line in proof.splitlines())
        return f"{stmt}\n{body}"

    def sorried(self) -> str:
        stmt = self.statement.rstrip()
        return f"{stmt} sorry" if _ENDS_BY.search(stmt) else f"{stmt} by sorry"


_ENDS_BY = re.compile(r":=\s*by$")
