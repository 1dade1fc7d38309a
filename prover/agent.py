"""The agent: one theorem → retrieve → search → proof text → soundness gate → `ProofAttempt`; in the
whole-proof modes (``config.mode`` = ``whole`` / ``repair`` / ``hybrid``) it dispatches to
`repair.modes.WholeProofMode` (sampled whole proofs, the repair loop) after starting the statement.

```python
with Agent(load_config("prover.toml")) as agent:
    attempt = agent.prove(theorem, seed=0)
```

Components not passed in are built from the config on first use and closed by `Agent.close`:
the Lean environment (`prover.lean.repl_env.ReplEnv`), the tactic generator
(`prover.models.build_generator`), the retriever (`retrieval.build_retriever`, only when
``retrieval.enabled``) and the critic (`prover.models.build_critic`, only for ``search.algorithm =
"mps"`` with a ``critic`` perspective). Injected components are used as they are and never closed.

`Agent.prove` never raises for something that went wrong with *this* theorem: the attempt's
``status`` says what happened —

* ``proved``: the search found a proof and `LeanEnv.check` (the soundness gate) accepted the whole text;
* ``failed``: no sound proof within the budgets, or the frontier ran out (``graph.stop_reason`` says which),
  and nothing cut the search short;
* ``error``: Lean rejected the statement (`LeanInputError`: ``error`` starts with `STATEMENT_REJECTED`), or
  the attempt was cut short by infrastructure, so "not proved" would be a guess: Lean crashed (or was
  killed for memory) on the statement or on any tactic of the search (that tactic's subtree was never
  explored), Lean timed out elaborating the statement or re-checking a proof in the gate, or the generator /
  critic / retriever raised. ``error`` is one line naming the cause; a batch redoes such attempts.

It raises only for problems that would fail every theorem alike — `LeanSetupError` (no Lean / REPL),
a component that cannot be built (`prover.errors.UserError` such as `ModelLoadError`, a bad config) —
and `KeyboardInterrupt`. The Lean statement is started before the generator is built, so a missing
toolchain is reported before a model loads. An exception raised *during* the search (a generation
server that stops answering, a critic error) ends only this attempt, with status ``error``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from data.putnambench import instantiate_answers
from prover.attempt import STATEMENT_REJECTED, ProofAttempt
from prover.config import ProverConfig
from prover.errors import UserError
from prover.lean.env import LeanEnv
from prover.lean.gate import SoundnessGate
from prover.lean.types import (
    CheckResult,
    LeanCrashed,
    LeanException,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    Theorem,
)
from prover.models.base import Critic, ProofGenerator, TacticGenerator
from retrieval.base import Retriever
from search import build_search
from search.engine import SearchStats
from search.graph import Edge
from search.proof_text import proof_text

log = logging.getLogger(__name__)

_UNSET: Any = object()


def one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class _Gate:
    """The search's ``accept`` callback: re-checks the whole proof text with `LeanEnv.check`."""

    def __init__(self, env: LeanEnv, theorem: Theorem) -> None:
        self.env = env
        self.theorem = theorem
        self.text: str | None = None
        self.result: CheckResult | None = None
        self.rejections: list[str] = []

    def __call__(self, path: list[Edge]) -> bool:
        text = proof_text(self.theorem, [e.tactic for e in path])
        try:  # an answer-free PutnamBench theorem: the text must define the answers (data.putnambench)
            theorem, checked = instantiate_answers(self.theorem, text)
        except UserError as e:
            return self._reject(f"answer-free: {e}")
        try:
            res = self.env.check(theorem, checked)
        except LeanException as e:
            raise type(e)(f"soundness gate: {e}") from e
        if res.sound:
            self.text, self.result = text, res
            return True
        return self._reject(
            "; ".join(res.reasons) or "; ".join(m.data for m in res.messages if m.is_error) or "not sound"
        )

    def _reject(self, reason: str) -> bool:
        self.rejections.append(one_line(reason))
        log.info("soundness gate rejected a proof of %s: %s", self.theorem.name, one_line(reason))
        return False


class Agent:
    def __init__(
        self,
        config: ProverConfig,
        *,
        env: LeanEnv | None = None,
        generator: TacticGenerator | None = None,
        retriever: Retriever | None = None,
        critic: Critic | None = None,
        proof_generator: ProofGenerator | None = None,
        sketch_models: Any = None,
    ) -> None:
        self.config = config
        self._env = env
        self._generator = generator
        self._proof_generator = proof_generator
        self._sketch_models = sketch_models  # repair.sketch.SketchModels (mode sketch)
        self._retriever: Retriever | None = retriever if retriever is not None else _UNSET
        self._critic: Critic | None = critic if critic is not None else _UNSET
        self._owned: list[Any] = []  # components built here, closed in reverse order

    # ---------------------------------------------------------------------------------------------
    # Components (built lazily)

    @property
    def env(self) -> LeanEnv:
        if self._env is None:
            from prover.lean.repl_env import ReplEnv  # type: ignore[import-not-found]

            self._env = ReplEnv(self.config.lean)
            self._owned.append(self._env)
        return self._env

    @property
    def generator(self) -> TacticGenerator:
        if self._generator is None:
            from prover import models

            self._generator = models.build_generator(self.config.generator)  # type: ignore[attr-defined]
            self._owned.append(self._generator)
        return self._generator

    @property
    def proof_generator(self) -> ProofGenerator:
        """The whole-proof generator (modes whole / repair / hybrid), from ``config.whole``."""
        if self._proof_generator is None:
            from prover import models

            self._proof_generator = models.build_proof_generator(self.config.whole)
            self._owned.append(self._proof_generator)
        return self._proof_generator

    @property
    def sketch_models(self) -> Any:
        """The draft and sketch models of mode ``sketch`` (`repair.sketch.SketchModels`), from ``config.sketch``."""
        if self._sketch_models is None:
            from repair.sketch import build_sketch_models

            self._sketch_models = build_sketch_models(self.config.sketch)
            self._owned.append(self._sketch_models)
        return self._sketch_models

    @property
    def retriever(self) -> Retriever | None:
        if self._retriever is _UNSET:
            self._retriever = None
            if self.config.retrieval.enabled and self.config.retrieval.k > 0:
                import retrieval

                self._retriever = retrieval.build_retriever(self.config.retrieval)  # type: ignore[attr-defined]
                if self._retriever is not None:
                    self._owned.append(self._retriever)
        return self._retriever

    @property
    def critic(self) -> Critic | None:
        if self._critic is _UNSET:
            self._critic = None
            s = self.config.search
            if s.algorithm == "mps" and "critic" in s.mps.perspectives:
                from prover import models

                self._critic = models.build_critic(self.config.generator)
                if self._critic is not None:
                    self._owned.append(self._critic)
        return self._critic

    # ---------------------------------------------------------------------------------------------

    def prove(
        self,
        theorem: Theorem,
        seed: int = 0,
        progress: Callable[[SearchStats], None] | None = None,
    ) -> ProofAttempt:
        """One attempt at ``theorem`` in ``config.mode`` (see the module docstring for what each status means)."""
        if self.config.mode != "step":
            return self._prove_whole(theorem, seed)
        t0 = time.monotonic()
        cfg = self.config
        attempt = ProofAttempt(theorem=theorem, status="error", seed=seed)
        env = self.env
        # States of earlier theorems are never used again: the env may drop them (and recycle its REPL).
        env.reset()
        try:
            root = env.start(theorem)
        except Exception as e:  # noqa: BLE001 - classified below; setup errors re-raised
            return self._failed(attempt, e, t0, reraise=(LeanSetupError, UserError))
        # Built after Lean accepted the statement (a missing toolchain fails before a model loads).
        # Failures here are not about this theorem, so they raise.
        generator, retriever, critic = self.generator, self.retriever, self.critic
        searcher = build_search(
            cfg.search,
            num_tactics=cfg.generator.num_samples,
            tactic_timeout=cfg.lean.timeout,
            critic=critic,
        )
        gate = _Gate(env, theorem)
        try:
            result = searcher.search(
                env,
                root,
                generator,
                theorem=theorem,
                retriever=retriever,
                premises_k=cfg.retrieval.k if retriever is not None else 0,
                progress=progress,
                accept=gate,
                seed=seed,
            )
        except Exception as e:  # noqa: BLE001 - one theorem's failure must not stop a batch
            return self._failed(attempt, e, t0, reraise=(LeanSetupError,))
        st = result.stats
        attempt.graph = result.graph
        attempt.expansions, attempt.lean_calls = st.expansions, st.lean_calls
        if gate.rejections:
            result.graph.meta["gate_rejections"] = list(gate.rejections)
        if result.proved and gate.text is not None:
            attempt.status = "proved"
            attempt.proof = gate.text
            attempt.lean_version = gate.result.lean_version if gate.result else None
            attempt.verified_by = gate.result.verified_by if gate.result else None
        elif st.crashes:
            attempt.status = "error"
            attempt.error = (
                f"LeanCrashed: Lean crashed {st.crashes} time(s) during the search (the tactics it crashed on were "
                f"not explored; stopped by: {st.stop_reason})"
            )
        else:
            attempt.status = "failed"
        attempt.time = time.monotonic() - t0
        return attempt

    def _prove_whole(self, theorem: Theorem, seed: int) -> ProofAttempt:
        """Modes whole / repair / hybrid: `repair.modes.WholeProofMode`; sketch: `repair.sketch.SketchMode` (and
        hybrid with ``sketch.first_in_hybrid``: a sketch attempt first, `repair.sketch.sketch_then`). The
        statement is started first, so a missing toolchain or a rejected statement is reported before a model
        loads."""
        from repair.modes import SearchSubgoalProver, WholeProofMode

        t0 = time.monotonic()
        cfg = self.config
        attempt = ProofAttempt(theorem=theorem, status="error", seed=seed, mode=cfg.mode)
        env = self.env
        env.reset()
        try:
            env.start(theorem)
        except Exception as e:  # noqa: BLE001 - classified below; setup errors re-raised
            return self._failed(attempt, e, t0, reraise=(LeanSetupError, UserError))
        generator = self.proof_generator if cfg.uses_whole_model else None
        models = self.sketch_models if cfg.uses_sketch_models else None  # load failures raise, as above
        subgoals = None
        if cfg.uses_step_model:
            retriever = self.retriever
            subgoals = SearchSubgoalProver(
                cfg.search,
                self.generator,
                cfg.repair if cfg.mode == "hybrid" else cfg.sketch.fill_config(cfg.repair),
                num_tactics=cfg.generator.num_samples,
                tactic_timeout=cfg.search.tactic_timeout or cfg.lean.timeout,
                retriever=retriever,
                premises_k=cfg.retrieval.k if retriever is not None else 0,
                seed=seed,
            )

        def gate(t: Theorem, text: str) -> CheckResult:
            try:  # an answer-free PutnamBench theorem: the text must define the answers (data.putnambench)
                t, text = instantiate_answers(t, text)
            except UserError as e:
                return CheckResult(False, reasons=(f"answer-free: {e}",))
            return env.check(t, text)

        screen = SoundnessGate.from_config(cfg.lean).screen
        try:
            if models is not None:
                from repair.sketch import SketchMode, sketch_then

                sketch = SketchMode(cfg.sketch, cfg.repair, env, models, proof_generator=generator,
                                    subgoal_prover=subgoals, screen=screen, gate=gate)
                if cfg.mode == "sketch":
                    return sketch.prove(theorem, seed=seed)
            assert generator is not None
            mode = WholeProofMode(cfg.mode, cfg.repair, env, generator, subgoal_prover=subgoals, screen=screen,
                                  gate=gate)
            if models is not None:
                return sketch_then(sketch, mode, theorem, seed)
            return mode.prove(theorem, seed=seed)
        except Exception as e:  # noqa: BLE001 - one theorem's failure must not stop a batch
            return self._failed(attempt, e, t0, reraise=(LeanSetupError,))

    @staticmethod
    def _failed(attempt: ProofAttempt, e: Exception, t0: float, reraise: tuple[type[Exception], ...]) -> ProofAttempt:
        """Turn a per-theorem exception into the attempt's status; re-raise setup problems."""
        if isinstance(e, reraise):
            raise e
        if isinstance(e, LeanInputError):
            attempt.status, attempt.error = "error", one_line(f"{STATEMENT_REJECTED}: {e}")
        elif isinstance(e, LeanTimeout):  # the statement or the gate: not a search budget
            attempt.status, attempt.error = "error", one_line(f"LeanTimeout: {e}")
        elif isinstance(e, LeanCrashed):
            attempt.status, attempt.error = "error", one_line(f"LeanCrashed: {e}")
        else:
            log.debug("attempt at %s failed", attempt.theorem.name, exc_info=e)
            attempt.status, attempt.error = "error", one_line(f"{type(e).__name__}: {e}")
        attempt.time = time.monotonic() - t0
        return attempt

    # ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        while self._owned:
            c = self._owned.pop()
            try:
                c.close()
            except Exception:  # noqa: BLE001
                log.warning("closing %s failed", type(c).__name__, exc_info=True)

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
