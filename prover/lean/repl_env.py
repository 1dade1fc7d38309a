"""`ReplEnv`: the `LeanEnv` protocol over the Lean REPL (a `ReplPool`, or one given `ReplProcess`).

* ``start(theorem)``: the header env (cached by the process) → ``cmd`` ``theorem.sorried()`` in it → the
  root `TacticState` (`LeanInputError`, one line naming the theorem and Lean's first error, when the
  statement does not elaborate).
* ``run_tactic(state, tactic, timeout)``: one ``tactic`` request. Failing tactics are `LeanError`;
  `LeanTimeout` / `LeanCrashed` propagate (the process has already been restarted).
* ``check(theorem, proof_text)``: the soundness gate (`prover.lean.gate`).

The ids of the states this env hands out are its own handles, not REPL proof-state ids. It remembers the
tactic path of every handle, so when the REPL process was restarted (timeout, crash, recycling: its
``generation`` changed) an old state is rebuilt on the new process by replaying its path from the root.
A search therefore survives a crash on one edge. ``lean_calls`` counts the requests made for this env
(replays and header re-elaboration after a restart included; the header elaboration a pool does while
handing out a process is not); ``replays`` counts the replayed tactic steps.

Not thread-safe: use one `ReplEnv` per worker (they can share one `ReplPool`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.lean.config import LeanConfig
from prover.lean.gate import MODULE_SYSTEM_REASON, SoundnessGate, split_header
from prover.lean.repl import ReplBase
from prover.lean.strict import ComparatorChecker, StrictJob, job_for_file, job_for_theorem
from prover.lean.syntax import scan
from prover.lean.types import (
    CheckResult,
    CommandResult,
    Elaboration,
    LeanCrashed,
    LeanError,
    LeanInputError,
    ProofFinished,
    TacticResult,
    TacticState,
    Theorem,
)

if TYPE_CHECKING:
    from prover.lean.pool import ReplPool


@dataclass(frozen=True)
class _Node:
    theorem: Theorem
    parent: int | None  # None: a root (of ``theorem``, or of sorry ``sorry`` of ``text``)
    tactic: str | None
    pp: str
    goals: tuple[str, ...] = ()
    text: str | None = None  # a root handed out by `elaborate`: the text whose sorry it is
    sorry: int = 0


def _theorem_key(t: Theorem) -> tuple[str, str, str]:
    return (t.name, t.statement, t.header)


class _NoLean:
    """A command runner for checks the static screen decides: it is never asked anything."""

    lean_version = None

    def header_env(self, header: str) -> int:
        raise AssertionError("the static screen should have decided")

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> Any:
        raise AssertionError("the static screen should have decided")


class _Counting:
    """A process seen through the gate: counts the requests into ``env.lean_calls``."""

    def __init__(self, proc: ReplBase, env: ReplEnv):
        self._proc, self._env = proc, env

    @property
    def lean_version(self) -> str | None:
        return self._proc.lean_version or self._env.lean_version

    def header_env(self, header: str) -> int:
        return self._env._counted(self._proc, self._proc.header_env, header)

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
        return self._env._counted(self._proc, self._proc.command, cmd, env=env, **kw)


class ReplEnv:
    """LeanEnv over the REPL. Give ``pool`` or ``process`` to share them; else it builds its own pool."""

    def __init__(
        self,
        config: LeanConfig | None = None,
        *,
        pool: ReplPool | None = None,
        process: ReplBase | None = None,
        command: list[str] | None = None,
        cwd: Path | None = None,
    ):
        self.config = config or LeanConfig()
        self._owns: list[Any] = []
        self._pool = pool
        self._fixed = process
        if pool is None and process is None:
            from prover.lean.pool import ReplPool  # answers from config.replay_path when that is set

            self._pool = ReplPool(self.config, command=command, cwd=cwd)
            self._owns.append(self._pool)
        self.gate = SoundnessGate.from_config(self.config)
        self.lean_calls = 0
        self.replays = 0
        self._nodes: dict[int, _Node] = {}
        self._next_handle = 0
        self._live: dict[int, tuple[int, int, int]] = {}  # handle → (process key, generation, proofState)
        self._roots: dict[tuple[str, str, str], int] = {}
        self._lease: contextlib.AbstractContextManager[Any] | None = None
        self._lease_proc: ReplBase | None = None
        self._lease_header: str | None = None

    # -- construction helpers -----------------------------------------------------------------

    @classmethod
    def from_replay(cls, path: str | Path, config: LeanConfig | None = None) -> ReplEnv:
        """Re-run a session recorded with ``lean.record_path`` offline (no Lean needed)."""
        config = config or LeanConfig()
        proc = _replay_process(Path(path), config)
        env = cls(config, process=proc)
        env._owns.append(proc)
        return env

    # -- LeanEnv ---------------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> TacticState:
        try:
            proc = self._process(theorem.header)
        except LeanInputError as e:
            raise LeanInputError(f"{theorem.name}: header: {_first_error_line(str(e))}") from e
        key = _theorem_key(theorem)
        handle = self._roots.get(key)
        if handle is not None and self._is_live(handle, proc):
            return self._state(handle)
        ps, pp, goals = self._start_root(proc, theorem)
        if handle is None or self._nodes[handle].pp != pp:
            handle = self._new_node(_Node(theorem, None, None, pp, tuple(goals)))
            self._roots[key] = handle
        self._live[handle] = (_pkey(proc), proc.generation, ps)
        return TacticState.of_goals(goals, handle)

    def run_tactic(self, state: TacticState, tactic: str, timeout: float | None = None) -> TacticResult:
        node = self._nodes.get(state.id)
        if node is None or node.pp != state.pp:
            raise ValueError(f"state {state.id} was not handed out by this ReplEnv")
        proc = self._process(node.theorem.header)
        ps = self._materialize(state.id, proc)
        gen = proc.generation
        limit = timeout if timeout is not None else self.config.timeout
        res = self._counted(proc, proc.tactic, tactic, ps, timeout=limit)
        if isinstance(res, TacticState):
            handle = self._new_node(_Node(node.theorem, state.id, tactic, res.pp, res.goals))
            self._live[handle] = (_pkey(proc), gen, res.id)
            return TacticState(pp=res.pp, id=handle, goals=res.goals, messages=res.messages)
        if isinstance(res, ProofFinished):
            handle = self._new_node(_Node(node.theorem, state.id, tactic, ""))
            if res.id is not None:
                self._live[handle] = (_pkey(proc), gen, res.id)
            return ProofFinished(handle, res.messages)
        return res

    def elaborate(self, theorem: Theorem, text: str, timeout: float | None = None) -> Elaboration:
        """Run ``text`` (declarations without imports) as one command in the env of ``theorem.header``.

        Each sorry with a proof state gets a handle usable with `run_tactic`; after a restart it is rebuilt by
        running the text again and taking the same sorry (the same goal is required).
        """
        proc = self._process(theorem.header)
        env = self._counted(proc, proc.header_env, theorem.header)
        gen = proc.generation
        res = self._counted(proc, proc.command, text, env=env, timeout=timeout)
        states: list[TacticState | None] = []
        for i, s in enumerate(res.sorries):
            if s.proof_state is None:
                states.append(None)
                continue
            goals = (s.goal,)
            handle = self._new_node(_Node(theorem, None, None, TacticState.of_goals(goals, 0).pp, goals, text, i))
            self._live[handle] = (_pkey(proc), gen, int(s.proof_state))
            states.append(TacticState.of_goals(goals, handle))
        return Elaboration(res.messages, res.sorries, tuple(states), res.error)

    def check(self, theorem: Theorem, proof_text: str) -> CheckResult:
        header = self.gate.header_for(theorem, proof_text)
        proc = self._process(header)
        res = self.gate.check(_Counting(proc, self), theorem, proof_text)
        if res.sound and self.config.verify == "strict":
            res = self._strict(res, job_for_theorem(theorem, proof_text, header))
        return res

    def check_file(self, text: str, names: list[str] | None = None) -> CheckResult:
        """Gate a whole file (``prover check``): see `SoundnessGate.check_file`."""
        header, _, _ = split_header(text)
        if scan(header).header.is_module:  # the REPL gate cannot elaborate it: its static screen, then strict
            res = self.gate.check_file(_NoLean(), text, names)
            if self.config.verify != "strict" or set(res.reasons) != {MODULE_SYSTEM_REASON}:
                return res
            return self._strict(replace(res, sound=True, reasons=()), job_for_file(text, names))
        proc = self._process(header)
        res = self.gate.check_file(_Counting(proc, self), text, names)
        if res.sound and self.config.verify == "strict":
            res = self._strict(res, job_for_file(text, names))
        return res

    def _strict(self, res: CheckResult, job: StrictJob) -> CheckResult:
        """The independent checker after the REPL gate (`prover.lean.strict`): sound only if both accept."""
        verdict = ComparatorChecker(self.config).check(job, self.config.allowed_axioms)
        if verdict.ok:
            return replace(res, sound=True, reasons=(), verified_by="strict")
        why = verdict.reason or "strict: rejected"
        return replace(res, sound=False, reasons=(*res.reasons, why), verified_by="strict")

    def proof_path(self, state: TacticState | ProofFinished) -> list[str]:
        """The tactics from the root to ``state`` (a state or a `ProofFinished` this env returned)."""
        handle = state.id
        tactics: list[str] = []
        while handle is not None:
            node = self._nodes[handle]
            if node.tactic is not None:
                tactics.append(node.tactic)
            handle = node.parent
        return tactics[::-1]

    def reset(self) -> None:
        """Forget every state handed out so far (their ids become invalid).

        With no state left to protect this is a safe point to recycle the REPL (``lean.max_requests`` /
        ``lean.max_rss_mb``): otherwise a worker that keeps its lease for one header would never recycle,
        and the REPL would hold every proof state of every theorem until the memory cap kills it.
        """
        self._nodes.clear()
        self._live.clear()
        self._roots.clear()
        proc = self._fixed or self._lease_proc
        if proc is not None:
            proc.maybe_recycle()

    def close(self) -> None:
        self._release()
        for obj in reversed(self._owns):
            with contextlib.suppress(Exception):
                obj.close()
        self._owns.clear()

    def __enter__(self) -> ReplEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    @property
    def lean_version(self) -> str | None:
        """The Lean version of the REPL in use (`prover.lean.project.repl_lean_version`); None: unknown."""
        proc = self._fixed or self._lease_proc
        return proc.lean_version if proc is not None else None

    def _process(self, header: str) -> Any:
        if self._fixed is not None:
            return self._fixed
        if self._lease_proc is not None and self._lease_header == header:
            return self._lease_proc
        self._release()
        lease = self._pool.acquire(header)
        self._lease_proc = lease.__enter__()
        self._lease, self._lease_header = lease, header
        return self._lease_proc

    def _release(self) -> None:
        if self._lease is not None:
            lease, self._lease, self._lease_proc, self._lease_header = self._lease, None, None, None
            lease.__exit__(None, None, None)

    def _counted(self, proc: ReplBase, fn: Any, *args: Any, **kw: Any) -> Any:
        """Call ``fn`` and add the requests it made on ``proc`` (restarts' header replays too) to lean_calls."""
        before = proc.total_requests
        try:
            return fn(*args, **kw)
        finally:
            self.lean_calls += proc.total_requests - before

    def _start_root(self, proc: Any, theorem: Theorem) -> tuple[int, str, list[str]]:
        try:
            env = self._counted(proc, proc.header_env, theorem.header)
        except LeanInputError as e:
            raise LeanInputError(f"{theorem.name}: header: {_first_error_line(str(e))}") from e
        res = self._counted(proc, proc.command, theorem.sorried(), env=env)
        if res.error is not None:
            raise LeanInputError(f"{theorem.name}: {_first_error_line(res.error)}")
        if res.errors:
            first = res.errors[0]
            where = f"{first.pos.line}:{first.pos.column}: " if first.pos else ""
            raise LeanInputError(f"{theorem.name}: {where}{_first_error_line(first.data)}")
        sorries = [s for s in res.sorries if s.proof_state is not None]
        if not sorries:
            raise LeanInputError(f"{theorem.name}: Lean returned no proof state for the statement")
        root = max(sorries, key=lambda s: (s.pos.line, s.pos.column) if s.pos else (0, 0))
        goals = [root.goal]
        return int(root.proof_state), TacticState.of_goals(goals, 0).pp, goals

    def _sorry_root(self, proc: Any, node: _Node) -> tuple[int, str]:
        """The proof state of sorry ``node.sorry`` of ``node.text``, elaborated again on ``proc``."""
        env = self._counted(proc, proc.header_env, node.theorem.header)
        res = self._counted(proc, proc.command, node.text, env=env)
        if res.error is not None or node.sorry >= len(res.sorries) or res.sorries[node.sorry].proof_state is None:
            raise LeanCrashed(f"{node.theorem.name}: after a restart the text no longer gives sorry {node.sorry}")
        s = res.sorries[node.sorry]
        return int(s.proof_state), TacticState.of_goals((s.goal,), 0).pp

    def _is_live(self, handle: int, proc: Any) -> bool:
        live = self._live.get(handle)
        return live is not None and live[0] == _pkey(proc) and live[1] == proc.generation

    def _materialize(self, handle: int, proc: Any) -> int:
        """The REPL proof-state id of ``handle`` on ``proc``, replaying its path when it is stale."""
        if self._is_live(handle, proc):
            return self._live[handle][2]
        chain: list[int] = []
        h: int | None = handle
        while h is not None and not self._is_live(h, proc):
            chain.append(h)
            h = self._nodes[h].parent
        ps = self._live[h][2] if h is not None else None
        for h in reversed(chain):
            node = self._nodes[h]
            gen = proc.generation
            if node.parent is None and node.text is not None:
                ps, pp = self._sorry_root(proc, node)
                if pp != node.pp:
                    raise LeanCrashed(f"{node.theorem.name}: after a restart Lean gives another goal for a sorry")
            elif node.parent is None:
                ps, pp, _ = self._start_root(proc, node.theorem)
                if pp != node.pp:
                    raise LeanCrashed(f"{node.theorem.name}: after a restart Lean gives another root goal")
            else:
                assert ps is not None
                self.replays += 1
                res = self._counted(proc, proc.tactic, node.tactic, ps, timeout=self.config.timeout)
                if not isinstance(res, TacticState) or res.pp != node.pp:
                    got = res.error if isinstance(res, LeanError) else type(res).__name__
                    raise LeanCrashed(
                        f"{node.theorem.name}: replaying {node.tactic!r} after a restart gave another result ({got})"
                    )
                ps = res.id
            if proc.generation != gen:  # pragma: no cover - a restart without an exception
                raise LeanCrashed("the REPL restarted during a replay")
            self._live[h] = (_pkey(proc), proc.generation, ps)
        assert ps is not None
        return ps

    def _new_node(self, node: _Node) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._nodes[handle] = node
        return handle

    def _state(self, handle: int) -> TacticState:
        node = self._nodes[handle]
        return TacticState(pp=node.pp, id=handle, goals=node.goals)


def _pkey(proc: ReplBase) -> int:
    """Identifies a process for the lifetime of the program."""
    return proc.proc_id


def _replay_process(path: Path, config: LeanConfig) -> Any:
    from prover.lean.record import ReplayProcess

    return ReplayProcess(path, config)


def _first_error_line(text: str) -> str:
    """The first informative line of a (multi-line) Lean error text."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if not ln.endswith(":") and not ln.startswith("---"):
            return ln
    return lines[0] if lines else text
