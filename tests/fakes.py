"""In-process test tools: a scripted `LeanEnv`, `TacticGenerator`, `ProofGenerator` and `Critic`.

They are test doubles (never defaults) for fast unit tests of search, the agent, batch runs and the
CLI. `ScriptedEnv` reads the same script format as the REPL protocol double
(``tests/double/SCRIPT.md``), so one script can drive both:

```python
script = {
    "theorems": {"t1": {"goals": ["x : Nat\\n⊢ x = x"]}},
    "tactics": {"x : Nat\\n⊢ x = x": {"rfl": {"goals": []}, "bad": {"error": "unknown identifier"}}},
}
env = ScriptedEnv(script)
gen = ScriptedGenerator({"x : Nat\\n⊢ x = x": ["bad", "rfl"]})
```

Faults in the tactic table: ``{"sleep": s}`` raises `LeanTimeout` when ``s`` exceeds the request's timeout
(else answers ``then``, default ``{"goals": []}``), ``{"crash": true}`` / ``{"garbage": true}`` /
``{"oom": true}`` raise `LeanCrashed`. A tactic missing from the table is a `LeanError`.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

from prover.lean.types import (
    DEFAULT_ALLOWED_AXIOMS,
    CheckResult,
    LeanCrashed,
    LeanError,
    LeanInputError,
    LeanTimeout,
    ProofFinished,
    TacticResult,
    TacticState,
    Theorem,
)
from prover.models.base import Candidate, ProofCandidate, ProofFeedback, StepContext
from retrieval.base import Premise

_STMT_NAME = re.compile(r"\b(?:theorem|lemma)\s+([^\s(:{\[]+)")


def pp_of(goals: Sequence[str]) -> str:
    return "\n\n".join(goals)


class ScriptedEnv:
    """A `LeanEnv` whose states and tactic results come from a script (dict or JSON-like)."""

    def __init__(
        self,
        script: dict[str, Any],
        *,
        allowed_axioms: Sequence[str] = tuple(sorted(DEFAULT_ALLOWED_AXIOMS)),
        delay: float = 0.0,
        lean_version: str = "4.24.0-scripted",
    ) -> None:
        self.theorems: dict[str, dict[str, Any]] = dict(script.get("theorems", {}))
        self.tactics: dict[str, dict[str, dict[str, Any]]] = dict(script.get("tactics", {}))
        self.lean_version = str(script.get("lean_version", lean_version))
        self.allowed_axioms = frozenset(allowed_axioms)
        self.delay = delay
        self._next_id = 0
        self._states: dict[int, str] = {}
        self.calls: list[tuple[str, str, float | None]] = []  # (state pp, tactic, timeout)
        self.checks: list[str] = []
        self.starts = 0
        self.closed = False

    # LeanEnv -------------------------------------------------------------------------------------

    @property
    def lean_calls(self) -> int:
        """What a REPL would have been asked: each start, tactic and gate check."""
        return self.starts + len(self.calls) + len(self.checks)

    def reset(self) -> None:
        """States of earlier theorems become unknown, as `ReplEnv.reset` makes them."""
        self._states.clear()

    def start(self, theorem: Theorem) -> TacticState:
        self.starts += 1
        entry = self.theorems.get(theorem.name)
        if entry is None:
            m = _STMT_NAME.search(theorem.statement)
            entry = self.theorems.get(m.group(1)) if m else None
        if entry is None:
            raise LeanInputError(f"unknown theorem {theorem.name!r} (not in the script)")
        if "error" in entry:
            raise LeanInputError(str(entry["error"]))
        if entry.get("timeout"):
            raise LeanTimeout("theorem start timed out")
        return self._state(entry["goals"])

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult:
        if self.closed:
            raise LeanCrashed("env is closed")
        self.calls.append((state.pp, tactic, timeout))
        if self.delay:
            time.sleep(self.delay)
        if self._states.get(state.id) != state.pp:
            return LeanError(f"unknown proof state {state.id}")
        spec = self.tactics.get(state.pp, {}).get(tactic)
        if spec is None:
            return LeanError(f"<input>:1:0: unknown tactic '{tactic.splitlines()[0] if tactic else ''}'")
        return self._answer(spec, timeout)

    def check(self, theorem: Theorem, proof_text: str) -> CheckResult:
        self.checks.append(proof_text)
        try:
            root = self.theorems[theorem.name]["goals"]
        except KeyError:
            return CheckResult(sound=False, reasons=(f"unknown theorem {theorem.name!r}",))
        stmt = theorem.with_proof("").rstrip()
        if not proof_text.startswith(stmt):
            return CheckResult(sound=False, reasons=("proof text does not start with the statement",))
        body = textwrap.dedent(proof_text[len(stmt) :].strip("\n"))
        pp, axioms, line = pp_of(root), {"propext"}, 1
        while True:
            rest = body.lstrip("\n")
            line += body[: len(body) - len(rest)].count("\n")
            body = rest
            if not body:
                return CheckResult(sound=False, reasons=(f"unsolved goals at line {line}",))
            table = self.tactics.get(pp, {})
            match = max(
                (t for t in table if body == t or body.startswith(t + "\n")),
                key=len,
                default=None,
            )
            if match is None:
                return CheckResult(sound=False, reasons=(f"line {line}: unknown tactic",))
            spec = table[match]
            if "then" in spec:
                spec = spec["then"]
            if "goals" not in spec:
                return CheckResult(sound=False, reasons=(f"line {line}: tactic fails",))
            axioms.update(spec.get("axioms", ()))
            body = body[len(match) :]
            line += match.count("\n")
            if not spec["goals"]:
                if body.strip():
                    return CheckResult(sound=False, reasons=(f"line {line}: no goals left for the rest",))
                bad = sorted(axioms - self.allowed_axioms)
                return CheckResult(
                    sound=not bad,
                    axioms=tuple(sorted(axioms)),
                    reasons=tuple(f"uses axiom {a}" for a in bad),
                    lean_version=self.lean_version,
                )
            pp = pp_of(spec["goals"])

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> ScriptedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # helpers ------------------------------------------------------------------------------------

    def _state(self, goals: Sequence[str]) -> TacticState:
        sid = self._next_id
        self._next_id += 1
        st = TacticState.of_goals(list(goals), sid)
        self._states[sid] = st.pp
        return st

    def _answer(self, spec: dict[str, Any], timeout: float | None) -> TacticResult:
        if spec.get("crash") or spec.get("garbage") or spec.get("oom"):
            raise LeanCrashed("scripted crash")
        if "sleep" in spec:
            if timeout is not None and float(spec["sleep"]) > timeout:
                raise LeanTimeout(f"tactic timed out after {timeout:g}s")
            spec = spec.get("then", {"goals": []})
        if "error" in spec:
            return LeanError(str(spec["error"]))
        goals = spec.get("goals")
        if goals is None:
            return LeanError("bad script entry")
        if not goals:
            return ProofFinished(self._next_id)
        return self._state(goals)


class ScriptedGenerator:
    """A `TacticGenerator` proposing fixed tactics per state (``default`` for unknown states).

    Table values are lists of tactics or ``(tactic, logprob)`` pairs. Without a log-prob, candidate
    ``i`` gets ``-(i + 1)``. ``mean_logprob`` is the log-prob divided by the number of whitespace
    tokens. Every call is recorded in ``calls`` and its contexts in ``contexts``; ``seeds`` lists the distinct
    seeds the contexts carried, in order of first appearance.
    """

    def __init__(
        self,
        table: dict[str, Sequence[str | tuple[str, float]]] | None = None,
        default: Sequence[str | tuple[str, float]] = (),
        fn: Callable[[str], Sequence[str | tuple[str, float]]] | None = None,
    ) -> None:
        self.table = dict(table or {})
        self.default = list(default)
        self.fn = fn
        self.calls: list[tuple[list[str], Any, int]] = []
        self.contexts: list[Sequence[StepContext | None] | None] = []
        self.seeds: list[int | None] = []

    closed = False

    def close(self) -> None:
        self.closed = True

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None,
        n: int,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        self.calls.append((list(states), premises, n))
        self.contexts.append(contexts)
        for c in contexts or ():
            seed = c.seed if c is not None else None
            if seed not in self.seeds:
                self.seeds.append(seed)
        out: list[list[Candidate]] = []
        for s in states:
            entries = self.fn(s) if self.fn is not None else self.table.get(s, self.default)
            cands = []
            for i, e in enumerate(list(entries)[:n]):
                tac, lp = (e, -(i + 1.0)) if isinstance(e, str) else (e[0], float(e[1]))
                k = max(1, len(tac.split()))
                cands.append(Candidate(tac, lp, lp / k, k))
            out.append(cands)
        return out


class ScriptedProofGenerator:
    """A `ProofGenerator` answering from a table: theorem name -> answers (model output, with or without a
    fenced Lean block); sample ``j`` of a call is answer ``j`` cycled (no answers: no candidates). With
    feedback for a theorem, ``revisions[name]`` is used when present. A candidate's ``text`` is the last fenced
    block (or the whole answer); no statement check. Every call is recorded in ``calls``.
    """

    def __init__(
        self,
        table: dict[str, Sequence[str]] | None = None,
        revisions: dict[str, Sequence[str]] | None = None,
        default: Sequence[str] = (),
    ) -> None:
        self.table = {k: list(v) for k, v in (table or {}).items()}
        self.revisions = {k: list(v) for k, v in (revisions or {}).items()}
        self.default = list(default)
        self.calls: list[tuple[list[str], int, list[ProofFeedback | None] | None, int | None]] = []

    closed = False

    def close(self) -> None:
        self.closed = True

    def generate(
        self,
        theorems: Sequence[Theorem],
        n: int,
        *,
        feedback: Sequence[ProofFeedback | None] | None = None,
        seed: int | None = None,
    ) -> list[list[ProofCandidate]]:
        self.calls.append(([t.name for t in theorems], n, list(feedback) if feedback else None, seed))
        out: list[list[ProofCandidate]] = []
        for i, t in enumerate(theorems):
            fb = feedback[i] if feedback else None
            answers = (self.revisions.get(t.name) if fb is not None else None) or self.table.get(t.name, self.default)
            cands = []
            for j in range(n if answers else 0):
                raw = answers[j % len(answers)]
                blocks = re.findall(r"```(?:lean4?)?\n(.*?)```", raw, flags=re.S)
                text = blocks[-1].strip() if blocks else raw.strip()
                k = max(1, len(raw.split()))
                cands.append(ProofCandidate(text, raw, -float(k), -1.0, 10, k, problem=None if text else "empty"))
            out.append(cands)
        return out


class ScriptedCritic:
    """A `Critic` returning ``table[state]`` (``default`` for unknown states)."""

    def __init__(self, table: dict[str, float] | None = None, default: float = 0.0) -> None:
        self.table = dict(table or {})
        self.default = default
        self.calls: list[list[str]] = []

    closed = False

    def close(self) -> None:
        self.closed = True

    def score(self, states: Sequence[str]) -> list[float]:
        self.calls.append(list(states))
        return [self.table.get(s, self.default) for s in states]


class ScriptedRetriever:
    """A `Retriever` returning the same premises for every state, recording each call."""

    def __init__(self, premises: Sequence[Premise] = ()) -> None:
        self.premises = list(premises)
        self.calls: list[tuple[str, Any, int]] = []

    closed = False

    def close(self) -> None:
        self.closed = True

    def retrieve(self, state: str, theorem: object | None, k: int) -> list[Premise]:
        self.calls.append((state, theorem, k))
        return self.premises[:k]


def theorem(name: str, header: str = "") -> Theorem:
    """A `Theorem` whose statement names ``name`` (statement text is irrelevant to `ScriptedEnv`)."""
    return Theorem(name=name, statement=f"theorem {name} : True := by", header=header, source="scripted")
