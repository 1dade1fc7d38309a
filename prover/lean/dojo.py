"""`DojoEnv`: the `LeanEnv` protocol over LeanDojo (``lean_dojo.Dojo``), for repositories traced by LeanDojo.

Which theorem: `Theorem.meta` names it in the traced repo -- ``repo`` (git URL or local path),
``commit``, ``file_path`` (relative to the repo) and optionally ``full_name`` (default `Theorem.name`);
``repo`` / ``commit`` can also be given once to the constructor. The repo must already be traced (in
LeanDojo's cache): tracing takes hours, so `start` raises `LeanSetupError` instead of starting it unless
``allow_trace=True``.

Results map onto ours: ``TacticState`` → `TacticState` (ids are this env's handles), ``ProofFinished`` →
`ProofFinished`, ``LeanError`` → `LeanError`, ``ProofGivenUp`` (the tactic introduced ``sorry``) →
`LeanError`; ``DojoTacticTimeoutError`` → `LeanTimeout`, ``DojoCrashError`` → `LeanCrashed`,
``DojoInitError`` → `LeanInputError`. After a timeout or crash the Dojo process is unusable; the next
request starts a new one and replays the tactic path of the state it is asked about (as `ReplEnv` does).

``check`` is the soundness gate on LeanDojo's side: the gate's static screening (no ``axiom``, original
statement, no kernel tricks), then -- when ``meta["line"]`` gives the theorem's line -- the text and
``#print axioms`` in LeanDojo's command mode (a full axiom audit); otherwise ``lean_dojo.check_proof``
(compiles the file with the proof; errors and ``sorry`` only) plus a textual ban of ``native_decide``,
``ofReduceBool``, ``sorry`` and ``admit``. Prefer `ReplEnv` for gating when a REPL is available.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.lean import syntax
from prover.lean.config import LeanConfig
from prover.lean.gate import SoundnessGate, lean_name, parse_axioms, statement_tokens
from prover.lean.types import (
    CheckResult,
    LeanCrashed,
    LeanError,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    ProofFinished,
    TacticResult,
    TacticState,
    Theorem,
)

_BANNED = frozenset({"native_decide", "ofReduceBool", "sorry", "admit"})


@dataclass(frozen=True)
class _Node:
    theorem: Theorem
    parent: int | None
    tactic: str | None
    pp: str
    goals: tuple[str, ...] = ()


def _split_goals(pp: str) -> tuple[str, ...]:
    parts = [p for p in pp.split("\n\n") if p.strip()]
    if parts and all("⊢" in p for p in parts) and len(parts) == pp.count("⊢"):
        return tuple(parts)
    return (pp,) if pp else ()


class DojoEnv:
    """LeanEnv over ``lean_dojo.Dojo``; one Dojo (one Lean process) per theorem at a time."""

    def __init__(
        self,
        config: LeanConfig | None = None,
        *,
        repo: str | None = None,
        commit: str | None = None,
        allow_trace: bool = False,
        build_deps: bool = False,
    ):
        self.config = config or LeanConfig()
        self.repo, self.commit = repo, commit
        self.allow_trace, self.build_deps = allow_trace, build_deps
        self.lean_calls = 0
        self.replays = 0
        self._dojo: Any | None = None
        self._dojo_theorem: Theorem | None = None
        self._generation = 0  # +1 for every Dojo started
        self._nodes: dict[int, _Node] = {}
        self._live: dict[int, tuple[int, Any]] = {}  # handle → (generation, lean_dojo TacticState)
        self._next = 0

    # -- LeanDojo objects ------------------------------------------------------------------------

    @staticmethod
    def _lean_dojo() -> Any:
        try:
            import lean_dojo
        except ImportError as e:  # pragma: no cover - lean-dojo is a dependency
            raise LeanSetupError(f"lean-dojo is not installed: pip install lean-dojo ({e})") from e
        return lean_dojo

    def dojo_theorem(self, theorem: Theorem) -> Any:
        """The ``lean_dojo.Theorem`` for ``theorem`` (from its meta and this env's repo / commit)."""
        ld = self._lean_dojo()
        meta = theorem.meta or {}
        repo = meta.get("repo") or meta.get("url") or self.repo
        commit = meta.get("commit") or self.commit
        file_path = meta.get("file_path")
        if not (repo and commit and file_path):
            raise LeanInputError(
                f"{theorem.name}: the LeanDojo backend needs meta repo, commit and file_path "
                "(or DojoEnv(repo=..., commit=...))"
            )
        try:
            git_repo = ld.LeanGitRepo(str(repo), str(commit))
        except Exception as e:
            raise LeanSetupError(f"LeanDojo cannot open {repo}@{commit}: {e}") from e
        if not self.allow_trace and not ld.is_available_in_cache(git_repo):
            raise LeanSetupError(
                f"{repo}@{commit} is not traced in LeanDojo's cache; trace it first "
                f"(python -c \"import lean_dojo; lean_dojo.trace(lean_dojo.LeanGitRepo('{repo}', '{commit}'))\") "
                "or pass allow_trace=True"
            )
        return ld.Theorem(git_repo, Path(file_path), meta.get("full_name") or theorem.name)

    def _open(self, theorem: Theorem) -> Any:
        """Start a Dojo for ``theorem``; returns its initial lean_dojo state."""
        ld = self._lean_dojo()
        self._close_dojo()
        entry = self.dojo_theorem(theorem)
        dojo = ld.Dojo(entry, timeout=int(max(1, self.config.timeout)), build_deps=self.build_deps)
        self.lean_calls += 1
        try:
            dojo_obj, init = dojo.__enter__()
        except ld.DojoInitError as e:
            raise LeanInputError(f"{theorem.name}: LeanDojo could not start on it: {e}") from e
        except ld.DojoCrashError as e:
            raise LeanCrashed(f"{theorem.name}: LeanDojo crashed while starting: {e}") from e
        except ld.DojoTacticTimeoutError as e:
            raise LeanTimeout(f"{theorem.name}: LeanDojo timed out while starting") from e
        self._dojo, self._dojo_theorem = (dojo_obj, dojo), theorem
        self._generation += 1
        if not isinstance(init, ld.TacticState):
            raise LeanInputError(f"{theorem.name}: LeanDojo gave no tactic state ({type(init).__name__})")
        return init

    def _close_dojo(self) -> None:
        if self._dojo is not None:
            _, ctx = self._dojo
            self._dojo = None
            with contextlib.suppress(Exception):
                ctx.__exit__(None, None, None)

    # -- LeanEnv ---------------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> TacticState:
        init = self._open(theorem)
        handle = self._add(_Node(theorem, None, None, init.pp, _split_goals(init.pp)))
        self._live[handle] = (self._generation, init)
        return self._state(handle)

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult:
        node = self._nodes.get(state.id)
        if node is None or node.pp != state.pp:
            raise ValueError(f"state {state.id} was not handed out by this DojoEnv")
        ds = self._materialize(state.id)
        res = self._run(ds, tactic, timeout)
        ld = self._lean_dojo()
        if isinstance(res, ld.TacticState):
            handle = self._add(_Node(node.theorem, state.id, tactic, res.pp, _split_goals(res.pp)))
            self._live[handle] = (self._generation, res)
            return self._state(handle)
        if isinstance(res, ld.ProofFinished):
            handle = self._add(_Node(node.theorem, state.id, tactic, ""))
            return ProofFinished(handle)
        if isinstance(res, ld.ProofGivenUp):
            return LeanError("the tactic gave up the proof (contains sorry)")
        if isinstance(res, ld.LeanError):
            return LeanError(str(res.error))
        return LeanError(f"LeanDojo answered {type(res).__name__}")

    def check(self, theorem: Theorem, proof_text: str) -> CheckResult:
        if self.config.verify == "strict":
            raise LeanSetupError("strict mode (lean.verify = strict) needs the REPL backend, not LeanDojo")
        reasons = self._screen(theorem, proof_text)
        if reasons:
            return CheckResult(False, reasons=tuple(reasons))
        meta = theorem.meta or {}
        if meta.get("line"):
            return self._check_command_mode(theorem, proof_text, int(meta["line"]))
        ld = self._lean_dojo()
        proof = _proof_part(theorem, proof_text)
        banned = sorted({p for t in syntax.code_tokens(proof) if t.kind == syntax.IDENT for p in t.parts} & _BANNED)
        if banned:
            return CheckResult(False, reasons=(f"uses {', '.join(banned)}",))
        self.lean_calls += 1
        try:
            ok = bool(ld.check_proof(self.dojo_theorem(theorem), proof))
        except ld.DojoInitError as e:
            return CheckResult(False, reasons=(f"LeanDojo could not check it: {e}",))
        return CheckResult(ok, reasons=() if ok else ("LeanDojo: the proof has errors or uses sorry",))

    def proof_path(self, state: TacticState | ProofFinished) -> list[str]:
        out: list[str] = []
        h: int | None = state.id
        while h is not None:
            node = self._nodes[h]
            if node.tactic is not None:
                out.append(node.tactic)
            h = node.parent
        return out[::-1]

    def reset(self) -> None:
        """Forget every state handed out so far (their ids become invalid); the Dojo stays open."""
        self._nodes.clear()
        self._live.clear()

    def close(self) -> None:
        self._close_dojo()

    def __enter__(self) -> DojoEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _run(self, ds: Any, tactic: str, timeout: float | None) -> Any:
        ld = self._lean_dojo()
        assert self._dojo is not None
        dojo, _ = self._dojo
        proc = getattr(dojo, "proc", None)
        old = getattr(proc, "timeout", None)
        if proc is not None and timeout is not None:
            proc.timeout = timeout
        self.lean_calls += 1
        try:
            return dojo.run_tac(ds, tactic)
        except ld.DojoTacticTimeoutError as e:
            self._close_dojo()
            raise LeanTimeout(f"LeanDojo: no answer within {timeout or self.config.timeout:g}s to {tactic!r}") from e
        except ld.DojoCrashError as e:
            self._close_dojo()
            raise LeanCrashed(f"LeanDojo crashed on {tactic!r}: {e}") from e
        finally:
            if proc is not None and timeout is not None:
                with contextlib.suppress(Exception):
                    proc.timeout = old

    def _materialize(self, handle: int) -> Any:
        live = self._live.get(handle)
        if live is not None and live[0] == self._generation and self._dojo is not None:
            return live[1]
        chain: list[int] = []
        h: int | None = handle
        while h is not None and not (
            h in self._live and self._live[h][0] == self._generation and self._dojo is not None
        ):
            chain.append(h)
            h = self._nodes[h].parent
        ds = self._live[h][1] if h is not None else None
        ld = self._lean_dojo()
        for h in reversed(chain):
            node = self._nodes[h]
            if node.parent is None:
                ds = self._open(node.theorem)
                if ds.pp != node.pp:
                    raise LeanCrashed(f"{node.theorem.name}: after a restart LeanDojo gives another initial state")
            else:
                self.replays += 1
                res = self._run(ds, node.tactic or "", None)
                if not isinstance(res, ld.TacticState) or res.pp != node.pp:
                    raise LeanCrashed(f"{node.theorem.name}: replaying {node.tactic!r} gave another result")
                ds = res
            self._live[h] = (self._generation, ds)
        return ds

    def _add(self, node: _Node) -> int:
        h = self._next
        self._next += 1
        self._nodes[h] = node
        return h

    def _state(self, handle: int) -> TacticState:
        node = self._nodes[handle]
        return TacticState(pp=node.pp, id=handle, goals=node.goals)

    def _screen(self, theorem: Theorem, text: str) -> list[str]:
        """The REPL gate's static screen (same policy, same statement rules)."""
        return SoundnessGate.from_config(self.config).screen(theorem, text)

    def _check_command_mode(self, theorem: Theorem, text: str, line: int) -> CheckResult:
        """The text and ``#print axioms`` in LeanDojo's command mode, just before the theorem's line."""
        ld = self._lean_dojo()
        entry = self.dojo_theorem(theorem)
        self.lean_calls += 2
        try:
            with ld.Dojo((entry.repo, entry.file_path, line), timeout=int(max(1, self.config.timeout))) as (d, s0):
                s1 = d.run_cmd(s0, text)
                if isinstance(s1, ld.LeanError):
                    return CheckResult(False, reasons=(f"Lean: {s1.error.splitlines()[0] if s1.error else ''}",))
                if s1.message and re.search(r"declaration uses ['`]sorry", s1.message):
                    return CheckResult(False, reasons=("contains sorry",))
                name = _declared_name(theorem)
                s2 = d.run_cmd(s1, f"#print axioms {lean_name(name)}")
        except (ld.DojoInitError, ld.DojoCrashError, ld.DojoTacticTimeoutError) as e:
            return CheckResult(False, reasons=(f"LeanDojo could not check it: {type(e).__name__}: {e}",))
        got = parse_axioms(getattr(s2, "message", "") or "") if not isinstance(s2, ld.LeanError) else None
        if got is None:
            return CheckResult(False, reasons=("axiom audit failed",))
        bad = sorted(set(got[1]) - set(self.config.allowed_axioms))
        reasons = (f"uses disallowed axiom(s) {', '.join(bad)}",) if bad else ()
        return CheckResult(not bad, axioms=got[1], reasons=reasons)


def _declared_name(theorem: Theorem) -> str:
    decls = syntax.scan(theorem.statement).declarations
    return decls[0].full_name if decls and decls[0].full_name else theorem.name


def _proof_part(theorem: Theorem, text: str) -> str:
    """What follows the statement's ``:=`` in ``text`` (what ``lean_dojo.check_proof`` substitutes)."""
    ref = syntax.scan(theorem.statement)
    if not ref.declarations:
        return text
    want = statement_tokens(ref, ref.declarations[0])
    src = syntax.scan(text)
    for d in src.declarations:
        if d.proof is not None and statement_tokens(src, d) == want:
            return text[d.proof[0] : d.proof[1]].strip()
    return text
