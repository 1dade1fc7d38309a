"""`prover batch`: the step prover over every theorem of a selection, K attempts each, in parallel.

Design
------
* **Workers are threads** of one process. Each owns an `Agent` whose `LeanEnv` is a `ReplEnv` leasing a
  REPL process from one shared `ReplPool` (``workers`` processes, header envs cached per process). Lean work
  happens in those subprocesses, so the GIL is not the bottleneck; and threads can share **one in-process
  generator** (an HF model or a vLLM engine holds GPU memory once), which separate processes could not. A
  generator behind HTTP is shared the same way. To go past one machine use the Ray backend
  (`prover.batch.ray_backend`): prover actors (a process each) and GPU generator actors.
* **GPU batching across workers**: with several workers the generator is wrapped in `BatchingGenerator`,
  which merges the ``generate`` calls that arrive within a few milliseconds (or as soon as every worker is
  waiting) into one batched call, and serialises access to the model.
* **Agents come from an `AgentFactory`**, a picklable object: ``open(config, workers)`` builds what the
  workers share (generator, REPL pool) once per process, ``agent(config, shared)`` builds one worker's
  agent. Tests inject scripted generators / environments through it; Ray ships it to the actors.
* **The store is written by the driver thread only**, one transaction per finished attempt
  (`prover.batch.store`). A resumed run skips finished attempts. A full disk does not stop the batch: the
  rows are held in memory and written when the store accepts writes again; rows that never could be
  written are dumped at the end to a JSONL file in the run directory (or, when that disk is full, under the
  run's id in the user's cache / temp directory), which the next run imports; the exit status says so.
  The run directory is locked (`RunLock`): a second batch on it refuses to start.
* **Faults**: an attempt that ends in an infrastructure ``error`` (Lean crashed, ran out of memory or kept
  crashing, a timeout of the statement or of the gate, the agent raised) is retried ``batch.retries`` times
  on a fresh agent, then recorded as ``error`` with its cause and the batch goes on; resumed runs redo it
  until it has been tried ``batch.max_tries`` times. A `LeanSetupError` (no Lean, REPL missing) would fail
  every theorem, so it stops the batch (finished results stay) with its one-line message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from data.benchmarks import subject_of
from prover.attempt import STATEMENT_REJECTED, ProofAttempt
from prover.batch.store import (
    FINAL,
    AttemptRow,
    ResultStore,
    RunLock,
    StoreWriteError,
    dump_unsaved,
    import_unsaved,
)
from prover.config import ProverConfig
from prover.errors import UserError
from prover.lean.types import LeanSetupError, Theorem
from prover.models.base import Candidate, StepContext, TacticGenerator
from retrieval.base import Premise

log = logging.getLogger(__name__)


def one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def theorem_key(t: Theorem) -> str:
    return str(t.meta.get("key") or t.name)


# ---------------------------------------------------------------------------------------------------
# Generator batching across worker threads


def _ema(old: float | None, x: float, weight: float = 0.2) -> float:
    return x if old is None else (1 - weight) * old + weight * x


@dataclass
class _Request:
    items: list[Any]  # states (tactic generators) or prompts (completion backends)
    n: int
    extras: tuple[Sequence[Any] | None, ...]  # per-item side lists (premises, contexts / seeds); None: not given
    caller: int  # the calling thread
    result: list[Any] | None = None
    error: BaseException | None = None
    done: bool = False


class _Batcher:
    """Merges concurrent calls of several threads into one call of a model (see `BatchingGenerator`).

    The first caller becomes the leader and sends every pending request with the same ``n`` as one call
    (items and their side lists concatenated, so every item is generated for exactly as in an unmerged call);
    each caller gets its slice. Only one call reaches the model at a time, so a model that is not thread-safe
    is safe behind it. ``calls`` / ``states`` (items) / ``requests`` count what was sent.

    How long the leader waits for the other callers (``window`` seconds at most; 0 = never):

    * ``adaptive`` (default): only as long as waiting can pay. Merging saves a call of the model, so the
      leader waits at most ``wait_share`` of what a call has taken so far (a GPU model's ~100 ms call: the
      whole window; an instant generator: nothing), and only for callers expected back within that time (each
      caller's gap between two calls is tracked: one busy in a long Lean step is not waited for). It stops
      waiting as soon as every caller is pending or ``max_states`` items are queued.
    * fixed (``adaptive=False``): up to ``window`` every time (the behaviour before; a fixed 5 ms window cost
      2 workers a third of their speed-up when Lean steps take 5 ms).
    """

    _defaults: tuple[Any, ...] = ()  # what stands for a side list's entry when a request gave none

    def __init__(
        self,
        *,
        callers: int,
        window: float = 0.005,
        max_states: int = 64,
        adaptive: bool = True,
        wait_share: float = 0.5,
    ) -> None:
        self.callers = max(1, callers)
        self.window = max(0.0, window)
        self.max_states = max(1, max_states)
        self.adaptive = adaptive
        self.wait_share = wait_share
        self._cv = threading.Condition()
        self._pending: list[_Request] = []
        self._busy = False
        self._call_time: float | None = None  # moving average of one model call (s)
        self._gap: dict[int, float] = {}  # caller thread -> moving average of its time between calls (s)
        self._left: dict[int, float] = {}  # caller thread -> when its last call returned
        self.calls = 0
        self.states = 0
        self.requests = 0

    def _call(self, items: list[Any], n: int, extras: list[list[Any] | None]) -> list[Any]:
        """One call of the model on the merged request; one result per item."""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls, "states": self.states, "requests": self.requests}

    def _submit(self, items: Sequence[Any], n: int, extras: tuple[Sequence[Any] | None, ...]) -> list[Any]:
        me = threading.get_ident()
        req = _Request(list(items), n, extras, me)
        if not req.items:
            return []
        with self._cv:
            now = time.monotonic()
            if me in self._left:
                self._gap[me] = _ema(self._gap.get(me), now - self._left[me])
            self._pending.append(req)
            self._cv.notify_all()
            while not req.done:
                if self._busy:
                    self._cv.wait()
                    continue
                self._busy = True
                deadline = time.monotonic() + self._wait_budget()
                while len(self._pending) < self.callers and self._queued_states() < self.max_states:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
                batch = self._take_batch()
                self._cv.release()
                t0 = time.monotonic()
                try:
                    self._run(batch)
                finally:
                    self._cv.acquire()
                    self._busy = False
                    self._cv.notify_all()
                self._call_time = _ema(self._call_time, time.monotonic() - t0)
            self._left[me] = time.monotonic()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _wait_budget(self) -> float:
        """How long the leader may wait for more requests (see the class docstring)."""
        if self.window <= 0 or len(self._pending) >= self.callers:
            return 0.0
        if not self.adaptive:
            return self.window
        if self._call_time is None:  # no measurement yet: a short look
            return self.window
        budget = min(self.window, self.wait_share * self._call_time)
        now = time.monotonic()
        pending = {r.caller for r in self._pending}
        # when each caller not yet waiting is expected back, judged by its own rhythm; one due about now (give
        # or take the budget) is worth the budget (the wait ends as soon as every caller is in); one long
        # overdue is in a long Lean step
        others = [t for t in self._left if t not in pending]
        if any(t not in self._gap for t in others):  # one whose rhythm is not known yet: look once
            return budget
        expected = [self._left[t] + self._gap[t] - now for t in others]
        return budget if any(-budget <= e <= budget for e in expected) else 0.0

    def _queued_states(self) -> int:
        return sum(len(r.items) for r in self._pending)

    def _take_batch(self) -> list[_Request]:
        first = self._pending[0]
        batch, rest, total = [], [], 0
        for r in self._pending:
            if r.n == first.n and (not batch or total + len(r.items) <= self.max_states):
                batch.append(r)
                total += len(r.items)
            else:
                rest.append(r)
        self._pending = rest
        return batch

    def _run(self, batch: list[_Request]) -> None:
        items = [s for r in batch for s in r.items]
        extras: list[list[Any] | None] = []
        for k, default in enumerate(self._defaults):
            given = any(r.extras[k] is not None for r in batch)
            extras.append(
                [x for r in batch for x in (r.extras[k] if r.extras[k] is not None else [default] * len(r.items))]
                if given
                else None
            )
        self.calls += 1
        self.states += len(items)
        self.requests += len(batch)
        try:
            out = self._call(items, batch[0].n, extras)
            if len(out) != len(items):
                raise RuntimeError(f"the model returned {len(out)} results for {len(items)} inputs")
            i = 0
            for r in batch:
                r.result = list(out[i : i + len(r.items)])
                i += len(r.items)
        except BaseException as e:  # noqa: BLE001 - every caller of the batch gets the exception
            for r in batch:
                r.error = e
        for r in batch:
            r.done = True


class BatchingGenerator(_Batcher):
    """A thread-safe `TacticGenerator` wrapper that merges concurrent ``generate`` calls into one (premises and
    contexts concatenated; the merging rules are `_Batcher`'s)."""

    _defaults = ((), None)  # premises, contexts

    def __init__(self, inner: TacticGenerator, **kw: Any) -> None:
        super().__init__(**kw)
        self.inner = inner

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        n: int = 8,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        return self._submit(states, n, (premises, contexts))

    def close(self) -> None:
        """Nothing to free: the inner generator belongs to whoever built it (the batch closes it)."""

    def _call(self, items: list[Any], n: int, extras: list[list[Any] | None]) -> list[Any]:
        premises, contexts = extras
        return self.inner.generate(items, premises, n, contexts=contexts)


class BatchingCompletions(_Batcher):
    """A thread-safe `prover.models.whole.CompletionBackend` wrapper that merges concurrent ``complete`` calls
    (whole-proof, draft and sketch prompts) into one call of the model (each prompt keeps its own seed; the
    merging rules are `_Batcher`'s, ``max_states`` counting prompts). It owns the backend it wraps."""

    _defaults = (None,)  # seeds

    def __init__(self, inner: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.inner = inner

    def complete(self, prompts: Sequence[Any], n: int, seeds: Sequence[int | None] | None = None) -> list[Any]:
        return self._submit(prompts, n, (seeds,))

    def _call(self, items: list[Any], n: int, extras: list[list[Any] | None]) -> list[Any]:
        return self.inner.complete(items, n, extras[0])

    def close(self) -> None:
        self.inner.close()


# ---------------------------------------------------------------------------------------------------
# Agent factory


@dataclass
class Shared:
    """What the workers of one process share: the generator and the REPL pool (None when not used)."""

    generator: Any = None
    pool: Any = None
    owned: list[Any] = field(default_factory=list)
    proof_generator: Any = None  # the whole-proof generator (modes whole / repair / hybrid)
    sketch_models: Any = None  # the draft and sketch models (mode sketch: repair.sketch.SketchModels)
    backends: Any = None  # where those got their completion backends (`ThreadBackends`, a Ray source)

    def close(self) -> None:
        while self.owned:
            obj = self.owned.pop()
            with contextlib.suppress(Exception):
                obj.close()


class AgentFactory:
    """Builds the agents of batch workers; picklable, so Ray can ship it to actors.

    ``generator(config)`` builds the shared tactic generator (default `prover.models.build_generator`);
    ``env(config, pool)`` builds one worker's `LeanEnv` (default a `ReplEnv` on the shared `ReplPool`);
    ``agent(config, env=, generator=)`` builds the agent (default `prover.agent.Agent`);
    ``completion_backend(config, role, model_cfg)`` builds the completion backend of the whole-proof (``whole``)
    or sketch mode's (``draft`` / ``sketch``) model (default `prover.models.whole.build_completion_backend`);
    ``proof_generator(config)`` / ``sketch_models(config)`` replace the whole-proof generator / sketch models
    altogether (then built in every process, never served by Ray actors). Pass module-level callables or
    picklable objects when the factory must travel to Ray actors.
    """

    def __init__(
        self,
        generator: Callable[[ProverConfig], Any] | None = None,
        env: Callable[[ProverConfig, Any], Any] | None = None,
        agent: Callable[..., Any] | None = None,
        proof_generator: Callable[[ProverConfig], Any] | None = None,
        sketch_models: Callable[[ProverConfig], Any] | None = None,
        completion_backend: Callable[[ProverConfig, str, Any], Any] | None = None,
    ) -> None:
        self.generator_fn = generator
        self.env_fn = env
        self.agent_fn = agent
        self.proof_generator_fn = proof_generator
        self.sketch_models_fn = sketch_models
        self.completion_backend_fn = completion_backend

    def build_completion_backend(
        self, config: ProverConfig, role: str, cfg: Any, opts: dict[str, Any], logprobs: bool
    ) -> Any:
        """The completion backend of one model (role ``whole`` / ``draft`` / ``sketch``; a `BackendSource`'s
        arguments), loaded in this process."""
        if self.completion_backend_fn is not None:
            return self.completion_backend_fn(config, role, cfg)
        from prover.models.whole import build_completion_backend

        return build_completion_backend(cfg, opts, logprobs=logprobs)

    def build_proof_generator(self, config: ProverConfig, backends: Any = None) -> Any:
        """The whole-proof generator the workers share (modes other than ``step``), its model's backend from
        ``backends`` (a `prover.models.whole.BackendSource`; default: loaded here)."""
        if self.proof_generator_fn is not None:
            return self.proof_generator_fn(config)
        from prover.models import build_proof_generator

        return build_proof_generator(config.whole, backends or ThreadBackends(self, config, 1))

    def build_sketch_models(self, config: ProverConfig, backends: Any = None) -> Any:
        """The draft and sketch models the workers share (mode sketch), from ``backends`` as above."""
        if self.sketch_models_fn is not None:
            return self.sketch_models_fn(config)
        from repair.sketch import build_sketch_models

        return build_sketch_models(config.sketch, backends or ThreadBackends(self, config, 1))

    def build_generator(self, config: ProverConfig) -> TacticGenerator:
        if self.generator_fn is not None:
            return self.generator_fn(config)
        from prover.models import build_generator

        return build_generator(config.generator)

    def open(self, config: ProverConfig, workers: int, *, generator: Any = None, backends: Any = None) -> Shared:
        """Build the shared parts for ``workers`` threads (``generator`` given: use it, e.g. a Ray proxy;
        ``backends``: where the completion models come from, e.g. Ray proxies; default `ThreadBackends`)."""
        shared = Shared()
        if self.env_fn is None and config.lean.replay_path is None:
            from prover.lean.project import resolve_repl_command

            # Fail in a second when Lean is missing, not after minutes of loading a model.
            resolve_repl_command(config.lean)
        try:
            shared.backends = backends or ThreadBackends(self, config, workers)
            if config.uses_whole_model:
                shared.proof_generator = self.build_proof_generator(config, shared.backends)
                shared.owned.append(shared.proof_generator)
            if config.uses_sketch_models:
                shared.sketch_models = self.build_sketch_models(config, shared.backends)
                shared.owned.append(shared.sketch_models)
            step_prover = config.uses_step_model  # whole / repair need no tactic generator
            if generator is None and step_prover:  # given (a Ray proxy): it batches on its own side
                generator = self.build_generator(config)
                shared.owned.append(generator)
                if workers > 1 and config.batch.batch_generator_calls:
                    generator = BatchingGenerator(
                        generator,
                        callers=workers,
                        window=config.batch.batch_window_ms / 1000.0,
                        max_states=config.batch.max_batch_states,
                        adaptive=config.batch.batch_window_mode == "adaptive",
                    )
            shared.generator = generator
            if self.env_fn is None:
                from prover.lean.pool import ReplPool

                lean = config.lean.model_copy(update={"num_processes": workers})
                shared.pool = ReplPool(lean)
                shared.owned.append(shared.pool)
        except BaseException:
            shared.close()
            raise
        return shared

    def agent(self, config: ProverConfig, shared: Shared) -> tuple[Any, list[Any]]:
        """One worker's agent and the objects to close with it."""
        if self.env_fn is not None:
            env = self.env_fn(config, shared.pool)
        else:
            from prover.lean.repl_env import ReplEnv

            env = ReplEnv(config.lean, pool=shared.pool)
        make = self.agent_fn
        if make is None:
            from prover.agent import Agent

            make = Agent
        extra: dict[str, Any] = {}
        if shared.proof_generator is not None:
            extra["proof_generator"] = shared.proof_generator
        if shared.sketch_models is not None:
            extra["sketch_models"] = shared.sketch_models
        agent = make(config, env=env, generator=shared.generator, **extra)
        return agent, [agent, env]


class ThreadBackends:
    """The `prover.models.whole.BackendSource` of one process's workers: each completion model loaded once (by
    the factory) and, for several workers, behind `BatchingCompletions`, so their requests become batched calls
    of one engine (``batch.batch_generator_calls`` off: an in-process engine still takes one request at a time;
    an HTTP client is shared as it is, the server batches). The generator or sketch models built on a backend
    own it."""

    def __init__(self, factory: AgentFactory, config: ProverConfig, workers: int) -> None:
        self.factory, self.config, self.workers = factory, config, workers
        self.batchers: dict[str, BatchingCompletions] = {}

    def __call__(self, role: str, cfg: Any, opts: dict[str, Any], *, logprobs: bool) -> Any:
        backend = self.factory.build_completion_backend(self.config, role, cfg, opts, logprobs)
        if self.workers <= 1:
            return backend
        b = self.config.batch
        if b.batch_generator_calls:
            batcher = BatchingCompletions(
                backend,
                callers=self.workers,
                window=b.batch_window_ms / 1000.0,
                max_states=b.max_batch_states,
                adaptive=b.batch_window_mode == "adaptive",
            )
        elif cfg.backend != "openai" and cfg.replay_path is None:
            batcher = BatchingCompletions(backend, callers=1, window=0.0, max_states=1)  # one request at a time
        else:
            return backend
        self.batchers[role] = batcher
        return batcher

    def stats(self) -> dict[str, dict[str, int]]:
        """Merged calls per model role."""
        return {role: b.stats() for role, b in self.batchers.items()}


# ---------------------------------------------------------------------------------------------------
# Jobs and workers


@dataclass
class Job:
    theorem: Theorem
    attempt: int
    seed: int
    prior_tries: int = 0  # tries of this attempt so far (each ended in an infrastructure error)
    last_try: int = 0  # the last try number this session may make (0: batch.retries more, batch.max_tries in all)

    @property
    def key(self) -> str:
        return theorem_key(self.theorem)


class FatalError(Exception):
    """Something that would fail every attempt (Lean missing, bad config): the batch stops."""


def _retryable(error: str | None) -> bool:
    return not (error or "").startswith(STATEMENT_REJECTED)


def last_try_of(job: Job, config: ProverConfig) -> int:
    """This session makes 1 + ``batch.retries`` tries of an attempt, never past ``batch.max_tries`` in all."""
    b = config.batch
    return min(job.prior_tries + 1 + b.retries, max(b.max_tries, job.prior_tries + 1))


def row_from_attempt(job: Job, attempt: ProofAttempt, *, worker: str, started: float, tries: int) -> AttemptRow:
    return AttemptRow(
        theorem=job.key,
        attempt=job.attempt,
        seed=job.seed,
        status=attempt.status,
        proof=attempt.proof if attempt.status == "proved" else None,
        error=one_line(attempt.error) if attempt.error else None,
        time=float(attempt.time),
        expansions=int(attempt.expansions),
        lean_calls=int(attempt.lean_calls),
        lean_version=attempt.lean_version,
        verified_by=attempt.verified_by if attempt.status == "proved" else None,
        worker=worker,
        started=started,
        finished=time.time(),
        tries=tries,
        mode=attempt.mode,
        stage=attempt.stage if attempt.status == "proved" else None,
        samples=int(attempt.samples),
        tokens=int(attempt.tokens),
        stats=json.dumps(attempt.stats, ensure_ascii=False, default=str) if attempt.stats else None,
    )


def graph_path(graphs_dir: Path | str, theorem_key: str, attempt: int) -> Path:
    """Where `save_graph` puts the graph of one attempt: a file-system-safe folder per theorem key."""
    import hashlib

    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in theorem_key)[:80]
    digest = hashlib.md5(theorem_key.encode("utf-8")).hexdigest()[:8]
    return Path(graphs_dir) / f"{safe}-{digest}" / f"{attempt}.json.gz"


def save_graph(graph: Any, graphs_dir: Path | str, job: Job, status: str) -> None:
    """Write an attempt's search graph (atomically); a failure to write is logged, never fatal."""
    graph.meta.update(
        theorem_key=job.key, theorem_name=job.theorem.name, attempt=job.attempt, seed=job.seed, status=status
    )
    path = graph_path(graphs_dir, job.key, job.attempt)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp.gz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        graph.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        log.warning("could not save the search graph of %s attempt %d: %s", job.key, job.attempt, e)
        with contextlib.suppress(OSError):
            tmp.unlink()


class Worker:
    """One Lean worker: runs jobs with its agent; an infrastructure error is retried on a fresh agent."""

    def __init__(
        self,
        factory: AgentFactory,
        config: ProverConfig,
        shared: Shared,
        name: str,
        stop: threading.Event | None = None,
    ) -> None:
        self.factory, self.config, self.shared, self.name = factory, config, shared, name
        self.stop = stop  # set: the batch is shutting down; an attempt cut short is not retried
        self._agent: Any = None
        self._closers: list[Any] = []

    def _get_agent(self) -> Any:
        if self._agent is None:
            self._agent, self._closers = self.factory.agent(self.config, self.shared)
        return self._agent

    def reset(self) -> None:
        closers, self._closers, self._agent = self._closers, [], None
        for c in closers:
            with contextlib.suppress(Exception):
                c.close()

    def run(self, job: Job) -> AttemptRow:
        started = time.time()
        spent = 0.0
        tries = job.prior_tries
        last_try = job.last_try or last_try_of(job, self.config)
        while True:
            tries += 1
            t0 = time.monotonic()
            try:
                attempt = self._get_agent().prove(job.theorem, seed=job.seed)
            except (LeanSetupError, UserError) as e:
                raise FatalError(f"{type(e).__name__}: {e}") from e
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 - the worker "died": rebuild it, keep the batch going
                log.warning("worker %s: attempt at %s raised %s", self.name, job.key, one_line(e))
                log.debug("traceback", exc_info=True)
                self.reset()
                attempt = ProofAttempt(
                    theorem=job.theorem,
                    status="error",
                    error=one_line(f"worker crashed: {type(e).__name__}: {e}"),
                    time=time.monotonic() - t0,
                    seed=job.seed,
                )
            spent += attempt.time
            stopping = self.stop is not None and self.stop.is_set()
            if attempt.status == "error" and tries < last_try and _retryable(attempt.error) and not stopping:
                log.info("retrying %s attempt %d after: %s", job.key, job.attempt, attempt.error)
                self.reset()
                continue
            attempt.time = spent
            if self.config.batch.graphs_dir is not None and attempt.graph is not None:
                save_graph(attempt.graph, self.config.batch.graphs_dir, job, attempt.status)
            return row_from_attempt(job, attempt, worker=self.name, started=started, tries=tries)

    def close(self) -> None:
        self.reset()


# ---------------------------------------------------------------------------------------------------
# Backends


class Backend:
    """Runs jobs and hands each finished `AttemptRow` to ``on_row`` (called in the driver thread)."""

    name = "base"
    generator_stats: dict[str, Any]  # merged generator calls (`BatchingGenerator`), filled by the end of `run`

    def __init__(self) -> None:
        self.generator_stats = {}

    def run(self, jobs: list[Job], on_row: Callable[[AttemptRow], None], stop: threading.Event) -> str | None:
        """Returns a fatal message, or None."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what `run` started (processes, actors); called once after `run`, also after an error."""


class LocalBackend(Backend):
    """``workers`` threads in this process sharing one generator and one REPL pool."""

    name = "local"

    def __init__(self, config: ProverConfig, factory: AgentFactory, workers: int) -> None:
        super().__init__()
        self.config, self.factory, self.workers = config, factory, workers
        self.shared: Shared | None = None

    def run(self, jobs: list[Job], on_row: Callable[[AttemptRow], None], stop: threading.Event) -> str | None:
        if not jobs:
            return None
        n = min(self.workers, len(jobs))
        try:
            self.shared = self.factory.open(self.config, n)
        except (LeanSetupError, UserError) as e:
            return f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - e.g. the generator cannot be built: nothing can run
            return f"cannot set up the workers: {type(e).__name__}: {one_line(e)}"
        jobq: queue.SimpleQueue[Job] = queue.SimpleQueue()
        for j in jobs:
            jobq.put(j)
        results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        fatal: list[str] = []

        def loop(i: int) -> None:
            assert self.shared is not None
            worker = Worker(self.factory, self.config, self.shared, f"local-{i}", stop)
            try:
                while not stop.is_set():
                    try:
                        job = jobq.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        results.put(("row", worker.run(job)))
                    except FatalError as e:
                        results.put(("fatal", str(e)))
                        stop.set()
                        break
                    except BaseException as e:  # noqa: BLE001 - never lose the thread silently
                        results.put(("row", _error_row(job, worker.name, f"worker crashed: {e!r}")))
            finally:
                worker.close()
                results.put(("exit", i))

        threads = [threading.Thread(target=loop, args=(i,), name=f"batch-worker-{i}", daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        alive = n
        try:
            while alive:
                try:
                    kind, value = results.get(timeout=0.2)
                except queue.Empty:
                    continue
                if kind == "row":
                    on_row(value)
                elif kind == "fatal":
                    if not fatal:
                        fatal.append(value)
                        print(f"prover batch: error: {value}; stopping (the running attempts finish)", file=sys.stderr)
                else:
                    alive -= 1
        except KeyboardInterrupt:
            stop.set()
            while True:  # attempts that finished just before the interrupt are kept
                try:
                    kind, value = results.get_nowait()
                except queue.Empty:
                    break
                if kind == "row":
                    on_row(value)
            raise
        finally:
            stop.set()
            self.close()  # on Ctrl-C this kills the REPLs of the running attempts: they are redone on resume
        return fatal[0] if fatal else None

    def close(self) -> None:
        if self.shared is not None:
            g = self.shared.generator
            if isinstance(g, BatchingGenerator):
                self.generator_stats = g.stats()
            if isinstance(self.shared.backends, ThreadBackends) and self.shared.backends.batchers:
                self.generator_stats["models"] = self.shared.backends.stats()
            self.shared.close()
            self.shared = None


def _error_row(job: Job, worker: str, error: str) -> AttemptRow:
    return AttemptRow(
        theorem=job.key, attempt=job.attempt, seed=job.seed, status="error", error=one_line(error), worker=worker
    )


# ---------------------------------------------------------------------------------------------------
# Progress


class ProgressView:
    """A live bar (rich) on a terminal; elsewhere (Slurm logs, pipes) one status line every ``interval`` s."""

    def __init__(self, *, enabled: bool = True, interval: float = 30.0, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.live = enabled and self.stream.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0
        self._rerouted: list[tuple[logging.StreamHandler, Any]] = []  # log handlers pointed at the live bar
        self.total = 0
        self.done = 0
        self.counts = {"proved": 0, "failed": 0, "timeout": 0, "error": 0}
        self.solved: set[str] = set()
        self.n_theorems = 0
        self.t0 = time.monotonic()

    def start(self, total: int, n_theorems: int, solved: Iterable[str]) -> None:
        self.total, self.n_theorems, self.solved = total, n_theorems, set(solved)
        self.t0 = time.monotonic()
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]batch"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
            self._route_logging()
            self._task = self._progress.add_task("batch", total=total, status=self._status())
        elif self.enabled:
            print(f"prover batch: {total} attempts to run over {n_theorems} theorems", file=self.stream)

    def _status(self) -> str:
        c = self.counts
        return (
            f"solved {len(self.solved)}/{self.n_theorems} | proved {c['proved']} failed {c['failed'] + c['timeout']}"
            f" error {c['error']}"
        )

    def update(self, row: AttemptRow) -> None:
        self.done += 1
        self.counts[row.status] = self.counts.get(row.status, 0) + 1
        if row.status == "proved":
            self.solved.add(row.theorem)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, status=self._status())
        elif self.enabled and (time.monotonic() - self._last >= self.interval or self.done == self.total):
            self._last = time.monotonic()
            elapsed = time.monotonic() - self.t0
            eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
            print(
                f"prover batch: {self.done}/{self.total} attempts | {self._status()} | "
                f"elapsed {_hms(elapsed)} ETA {_hms(eta)}",
                file=self.stream,
                flush=True,
            )

    def _route_logging(self) -> None:
        """Log records go through the bar's console (which prints them above the bar) instead of writing to
        the terminal under it: the live bar redirects ``sys.stderr``, but a logging handler keeps the stream
        it was given."""
        targets = {id(self.stream), id(sys.__stderr__)}
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.StreamHandler) and id(h.stream) in targets and h.stream is not sys.stderr:
                self._rerouted.append((h, h.setStream(sys.stderr)))

    def close(self) -> None:
        for h, old in self._rerouted:
            h.setStream(old)
        self._rerouted = []
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------------------------------------------
# The batch


@dataclass
class BatchSummary:
    run_dir: Path
    todo: int = 0  # attempts this invocation had to run
    ran: int = 0  # attempts it finished
    counts: dict[str, int] = field(default_factory=dict)
    skipped_done: int = 0  # attempts already in the store
    wall: float = 0.0
    fatal: str | None = None
    interrupted: bool = False
    unsaved: int = 0
    unsaved_path: str | None = None
    redone_errors: int = 0  # attempts redone because an earlier session ended them in an infrastructure error
    generator: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.ran == self.todo and not self.fatal and not self.unsaved


FINGERPRINT_SECTIONS = ("generator", "search", "retrieval")
# Lean settings that change results: what a tactic may take, what the gate accepts, which Lean answers.
# (Memory limits, recycling and the statement's timeout only decide whether an attempt is cut short, which
# makes it an error that is redone; the project's path matters through its toolchain and Mathlib revision.)
FINGERPRINT_LEAN = ("timeout", "allowed_axioms", "repl_command", "replay_path", "verify", "text_policy")


def config_fingerprint(config: ProverConfig) -> dict[str, Any]:
    """Every setting that can change what a run measures; a resume with other values is refused."""
    data = json.loads(config.model_dump_json())
    fp = {k: data.get(k) for k in FINGERPRINT_SECTIONS}
    fp["mode"] = config.mode
    if config.mode != "step":  # the whole-proof modes' models and budgets (irrelevant to a step-mode run)
        fp |= {k: data.get(k) for k in ("whole", "repair", "sketch")}
    fp["lean"] = {k: data["lean"].get(k) for k in FINGERPRINT_LEAN} | lean_versions(config)
    fp["batch"] = {"seed": config.batch.seed}  # attempt i samples with seed + i
    return fp


def fingerprint_change(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The first difference (``section.key: old -> new``) in the sections both fingerprints have (a run made
    by an earlier version lacks the sections added since: they are taken as they are now)."""
    return _diff({k: v for k, v in old.items() if k in new}, {k: v for k, v in new.items() if k in old})


def _diff(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} -> {b!r}"


def lean_versions(config: ProverConfig) -> dict[str, str | None]:
    """Toolchain and Mathlib revision of the Lean project (None where unknown)."""
    try:
        from prover.lean.project import manifest_packages, project_dir, read_toolchain

        proj = project_dir(config.lean)
        mathlib = manifest_packages(proj).get("mathlib", {})
        return {"lean_toolchain": read_toolchain(proj), "mathlib_rev": mathlib.get("rev")}
    except Exception:  # noqa: BLE001 - informational only
        return {"lean_toolchain": None, "mathlib_rev": None}


def repl_lean(config: ProverConfig) -> dict[str, str | None]:
    """The Lean version the REPL runs and where that was read (`prover.lean.project.repl_lean_version`)."""
    if config.lean.replay_path is not None:
        return {"lean_version": None, "lean_version_source": f"replayed from {config.lean.replay_path}"}
    from prover.lean.project import repl_lean_version, resolve_repl_command
    from prover.lean.types import LeanSetupError

    try:
        known = repl_lean_version(*resolve_repl_command(config.lean))
    except LeanSetupError as e:
        return {"lean_version": None, "lean_version_source": f"unknown: {one_line(e, 200)}"}
    return {"lean_version": known.version, "lean_version_source": known.source}


class BatchRunner:
    """Runs (or resumes) a batch into ``run_dir``; see the module docstring."""

    final_retry_delays: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)  # last tries to write held rows (s)

    def __init__(
        self,
        config: ProverConfig,
        theorems: Sequence[Theorem],
        run_dir: Path | str,
        *,
        factory: AgentFactory | None = None,
        backend: Backend | None = None,
        progress: bool = True,
        info: dict[str, Any] | None = None,
        force: bool = False,
        argv: list[str] | None = None,
    ) -> None:
        self.config = config
        self.theorems = list(theorems)
        self.run_dir = Path(run_dir)
        self.factory = factory or AgentFactory()
        self.backend = backend
        self.progress = ProgressView(enabled=progress)
        self.info = info or {}
        self.force = force
        self.argv = argv if argv is not None else sys.argv
        self._unsaved: list[AttemptRow] = []
        self._store_warned = False
        self.run_id: str | None = None
        self.store: ResultStore | None = None
        self.session: int | None = None
        self.summary = BatchSummary(self.run_dir)

    # -- setup ------------------------------------------------------------------------------------

    def _open_store(self) -> ResultStore:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.run_dir}: {e.strerror or e}") from e
        store = ResultStore.in_run_dir(self.run_dir, synchronous=self.config.batch.db_synchronous)
        try:
            self.run_id = store.get_meta("run_id")
            if self.run_id is None:  # names the places rows that the store could not take are kept
                self.run_id = uuid.uuid4().hex
                store.set_meta("run_id", self.run_id)
            imported = import_unsaved(store, self.run_dir, self.run_id)
        except StoreWriteError as e:
            store.close()
            raise UserError(f"cannot write the results store: {e}") from e
        if imported:
            print(
                f"prover batch: recorded {imported} finished result(s) that a full disk had kept out of the store",
                file=sys.stderr,
            )
        fp = config_fingerprint(self.config)
        old = store.get_meta("fingerprint")
        change = fingerprint_change(old, fp) if old is not None else None
        if change and not self.force:
            store.close()
            raise UserError(
                f"{self.run_dir} holds a run made with another configuration ({change}); use a new --out "
                "directory, or --force to add to it anyway"
            )
        try:
            if old is None:
                store.set_meta("created", time.time())
            if old != fp and not change:  # new, or sections added since the run began
                store.set_meta("fingerprint", fp)
            store.set_meta("config", json.loads(self.config.model_dump_json()))
            store.set_meta("attempts", max(int(store.get_meta("attempts", 0) or 0), self.config.batch.attempts))
            for k, v in self.info.items():
                store.set_meta(k, v)
            store.add_theorems(
                {
                    "key": theorem_key(t),
                    "name": t.name,
                    "split": t.meta.get("split") or "",
                    "subject": subject_of(t),
                    "source": t.source,
                    "known_issue": t.meta.get("known_issue"),
                    "header": t.header,
                    "statement": t.statement,
                }
                for t in self.theorems
            )
            backend_name = self.backend.name if self.backend else "local"
            versions = {**lean_versions(self.config), **(repl_lean(self.config) if self.factory.env_fn is None else {})}
            self.session = store.start_session(
                argv=self.argv, backend=backend_name, workers=self.config.batch.workers, **versions
            )
        except StoreWriteError as e:
            store.close()
            raise UserError(f"cannot write the results store: {e}") from e
        return store

    def jobs(self, store: ResultStore) -> list[Job]:
        b = self.config.batch
        done = store.done(retry_errors=b.retry_errors_on_resume, max_tries=b.max_tries)
        tries = store.tries()
        k = b.attempts
        jobs = [
            Job(t, i, b.seed + i, tries.get((theorem_key(t), i), 0))
            for i in range(k)  # attempt-major: an interrupted run still has pass@1 over every theorem
            for t in self.theorems
            if (theorem_key(t), i) not in done
        ]
        self.summary.redone_errors = sum(1 for j in jobs if j.prior_tries)
        self.summary.skipped_done = len(self.theorems) * k - len(jobs)
        return jobs

    # -- results ----------------------------------------------------------------------------------

    def _on_row(self, row: AttemptRow) -> None:
        row.session = self.session
        self._unsaved.append(row)
        self._flush()
        self.summary.ran += 1
        self.summary.counts[row.status] = self.summary.counts.get(row.status, 0) + 1
        self.progress.update(row)

    def _flush(self) -> bool:
        assert self.store is not None
        try:
            while self._unsaved:
                row = self.store.record(self._unsaved[0])
                self._unsaved.pop(0)
                log.info("recorded %s attempt %d: %s", row.theorem, row.attempt, row.status)
        except StoreWriteError as e:
            if not self._store_warned:
                self._store_warned = True
                print(
                    f"prover batch: warning: cannot write results ({one_line(e)}); keeping {len(self._unsaved)} "
                    "finished result(s) in memory and retrying after each attempt — free some disk space",
                    file=sys.stderr,
                )
            return False
        if self._store_warned:
            self._store_warned = False
            print("prover batch: the results store accepts writes again; held results written", file=sys.stderr)
        return True

    def _dump_unsaved(self) -> None:
        """Rows the store never took: into a file that the next run imports (see `store.unsaved_dirs`)."""
        if not self._unsaved:
            return
        path = dump_unsaved(self._unsaved, self.run_dir, self.run_id)
        if path is None:  # no file system takes them: the terminal is the last copy
            sys.stderr.write("".join(json.dumps(r.to_json()) + "\n" for r in self._unsaved))
            self.summary.unsaved_path = "<stderr>"
        else:
            self.summary.unsaved_path = str(path)
        self.summary.unsaved = len(self._unsaved)

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> BatchSummary:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.run_dir}: {e.strerror or e}") from e
        with RunLock(self.run_dir):  # one writer per run directory
            return self._run()

    def _run(self) -> BatchSummary:
        t0 = time.monotonic()
        self.store = store = self._open_store()
        jobs = self.jobs(store)
        self.summary.todo = len(jobs)
        solved = {r["theorem"] for r in store.attempts() if r["status"] == "proved"}
        backend = self.backend or LocalBackend(self.config, self.factory, self.config.batch.workers)
        self.backend = backend
        stop = threading.Event()
        self.progress.start(len(jobs), len(self.theorems), solved)
        try:
            self.summary.fatal = backend.run(jobs, self._on_row, stop)
        except KeyboardInterrupt:
            stop.set()
            self.summary.interrupted = True
        finally:
            self.progress.close()
            for delay in self.final_retry_delays:
                if not self._unsaved:
                    break
                time.sleep(delay)
                self._flush()
            self._dump_unsaved()
            self.summary.wall = time.monotonic() - t0
            with contextlib.suppress(Exception):
                backend.close()
            self.summary.generator = dict(backend.generator_stats)
            store.close()
        return self.summary


def run_batch(
    config: ProverConfig,
    theorems: Sequence[Theorem],
    run_dir: Path | str,
    **kw: Any,
) -> BatchSummary:
    """Convenience wrapper: `BatchRunner(...).run()`."""
    return BatchRunner(config, theorems, run_dir, **kw).run()


__all__ = [
    "AgentFactory",
    "AttemptRow",
    "BatchRunner",
    "BatchSummary",
    "BatchingGenerator",
    "FINAL",
    "Job",
    "LocalBackend",
    "Shared",
    "Worker",
    "config_fingerprint",
    "run_batch",
    "theorem_key",
]
