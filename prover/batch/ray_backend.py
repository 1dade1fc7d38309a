"""The batch on a Ray cluster: ``prover batch ... --ray auto|ADDRESS|local``.

* **Generator actors** (``batch.ray_generator_actors``, each ``batch.ray_generator_gpus`` GPUs): one
  tactic generator each (a vLLM engine, an HF model), built by the `AgentFactory`. They are threaded actors
  whose generator sits behind a `BatchingGenerator`, so concurrent requests from many prover actors become
  one batched GPU call. With ``ray_generator_actors = 0`` every prover actor builds its own generator (an
  HTTP endpoint, the automation portfolio, test generators).
* **Prover actors** (``batch.workers`` of them, ``batch.ray_prover_cpus`` CPUs each): one `Worker` with one
  Lean REPL process each, asking a generator actor for tactics through `RayGeneratorProxy`.
* **The driver** (this process) owns the store: it hands each prover actor one job at a time, writes every
  row as it comes back, and resumes exactly like the local backend (finished attempts are never resent).
  A prover actor that dies (segfault, OOM kill, node lost) is restarted by Ray (``ray_max_restarts``) or
  replaced; its job is resent up to ``batch.retries`` times (``batch.max_tries`` in all), then recorded as
  ``error``, which a resumed run redoes.

The Lean project (``lean.project_dir``) and this package must be at the same paths on every node (a shared
file system, as on most Slurm clusters); see ``scripts/ray_slurm_start.sh`` and ``scripts/slurm_batch.sbatch``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from prover.batch.runner import (
    AgentFactory,
    AttemptRow,
    Backend,
    BatchingGenerator,
    FatalError,
    Job,
    Worker,
    last_try_of,
    one_line,
)
from prover.config import ProverConfig
from prover.errors import UserError
from prover.models.base import Candidate, StepContext
from retrieval.base import Premise

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dependency
        raise UserError("--ray needs the `ray` package: pip install 'ray[default]'") from e
    return ray


class RayGeneratorProxy:
    """A `TacticGenerator` that forwards ``generate`` (contexts included) to a generator actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def close(self) -> None:
        """Nothing to free here: the generator actor belongs to the Ray backend, which ends it."""

    def generate(
        self,
        states: Sequence[str],
        premises: Sequence[Sequence[Premise]] | None = None,
        n: int = 8,
        *,
        contexts: Sequence[StepContext | None] | None = None,
    ) -> list[list[Candidate]]:
        ray = _ray()
        ctx = list(contexts) if contexts is not None else None
        return ray.get(self.handle.generate.remote(list(states), premises, n, ctx))


class _GeneratorActor:
    def __init__(self, factory: AgentFactory, config: ProverConfig, callers: int) -> None:
        inner = factory.build_generator(config)
        self.gen = BatchingGenerator(
            inner,
            callers=max(1, callers),
            window=config.batch.batch_window_ms / 1000.0,
            max_states=config.batch.max_batch_states,
            adaptive=config.batch.batch_window_mode == "adaptive",
        )

    def generate(
        self,
        states: list[str],
        premises: Sequence[Sequence[Premise]] | None,
        n: int,
        contexts: list[StepContext | None] | None,
    ) -> list[list[Candidate]]:
        return self.gen.generate(states, premises, n, contexts=contexts)

    def stats(self) -> dict[str, int]:
        return {"calls": self.gen.calls, "states": self.gen.states, "requests": self.gen.requests}


class _ProverActor:
    def __init__(self, factory: AgentFactory, config: ProverConfig, generator: Any, name: str) -> None:
        proxy = RayGeneratorProxy(generator) if generator is not None else None
        self.shared = factory.open(config, 1, generator=proxy)
        self.worker = Worker(factory, config, self.shared, name)

    def run(self, job: Job) -> AttemptRow:
        return self.worker.run(job)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.worker.close()
        self.shared.close()


def init_ray(address: str | None) -> None:
    """Connect to (``auto`` / ``HOST:PORT`` / ``ray://...``) or start (``local``) a Ray cluster, once."""
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        if address in (None, "", "local"):
            ray.init(log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except ConnectionError as e:
        raise UserError(f"cannot connect to the Ray cluster at {address!r}: {e}") from e
    except Exception as e:  # noqa: BLE001 - ray raises many types here
        raise UserError(f"cannot start/connect Ray ({address!r}): {type(e).__name__}: {e}") from e


class RayBackend(Backend):
    """Prover actors + generator actors on a Ray cluster; the driver writes the store."""

    name = "ray"

    def __init__(self, config: ProverConfig, factory: AgentFactory | None = None, *, poll: float = 0.2) -> None:
        super().__init__()
        self.config = config
        self.factory = factory or AgentFactory()
        self.poll = poll
        self._actors: list[Any] = []
        self._gens: list[Any] = []

    def _new_prover(self, i: int, gen: Any) -> Any:
        ray = _ray()
        b = self.config.batch
        cls = ray.remote(_ProverActor).options(
            num_cpus=b.ray_prover_cpus, max_restarts=b.ray_max_restarts, max_task_retries=0
        )
        return cls.remote(self.factory, self.config, gen, f"ray-{i}")

    def run(self, jobs: list[Job], on_row: Callable[[AttemptRow], None], stop: threading.Event) -> str | None:
        if not jobs:
            return None
        ray = _ray()
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayTaskError

        b = self.config.batch
        init_ray(b.ray_address)
        n = min(b.workers, len(jobs))
        n_gen = min(b.ray_generator_actors, n)
        res = ray.cluster_resources()
        gpus_needed = n_gen * b.ray_generator_gpus
        if gpus_needed > float(res.get("GPU", 0.0)) + 1e-9:
            raise UserError(
                f"the Ray cluster has {res.get('GPU', 0):g} GPU(s); {n_gen} generator actor(s) × "
                f"{b.ray_generator_gpus:g} need {gpus_needed:g} (set batch.ray_generator_gpus=0 to run the "
                "generator on CPU, or batch.ray_generator_actors=0 to build it in every prover)"
            )
        fit = int(float(res.get("CPU", 0.0)) // b.ray_prover_cpus) if b.ray_prover_cpus > 0 else n
        if fit < 1:
            raise UserError(f"the Ray cluster has {res.get('CPU', 0):g} CPU(s): no room for a prover actor")
        if n > fit:  # actors that cannot be placed would hold their jobs forever
            msg = f"the Ray cluster fits {fit} prover actor(s), not {n}; using {fit}"
            print(f"prover batch: warning: {msg}", file=sys.stderr)
            n = fit
            n_gen = min(n_gen, n)
        if n_gen > 0:
            gcls = ray.remote(_GeneratorActor).options(
                num_gpus=b.ray_generator_gpus, num_cpus=0, max_concurrency=max(2, n // n_gen + 1), max_restarts=1
            )
            self._gens = [gcls.remote(self.factory, self.config, n // n_gen + 1) for _ in range(n_gen)]
        gen_of = [self._gens[i % n_gen] if n_gen else None for i in range(n)]
        self._actors = [self._new_prover(i, gen_of[i]) for i in range(n)]

        # (job, its try number, the last try this session may make: batch.retries more, batch.max_tries in all)
        todo: collections.deque[tuple[Job, int, int]] = collections.deque(
            (j, j.prior_tries + 1, last_try_of(j, self.config)) for j in jobs
        )
        pending: dict[Any, tuple[int, Job, int, int, float]] = {}  # ref -> (actor index, job, tries, last, sent)
        fatal: str | None = None
        deaths = [0] * n  # Ray restarts a dead actor up to ray_max_restarts times
        waits = [0] * n  # consecutive "actor unavailable" answers (it is restarting)

        def submit(i: int) -> None:
            if stop.is_set() or fatal or not todo:
                return
            job, tries, last = todo.popleft()
            pending[self._actors[i].run.remote(job)] = (i, job, tries, last, time.time())

        for i in range(n):
            submit(i)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll)
                for ref in ready:
                    i, job, tries, last, sent = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ActorUnavailableError as e:  # restarting: the job never ran there; resend it
                        waits[i] += 1
                        if waits[i] > 600:
                            raise UserError(f"Ray actor ray-{i} stays unavailable: {one_line(e)}") from e
                        time.sleep(0.1)
                        todo.appendleft((job, tries, last))
                    except RayActorError as e:
                        msg = f"worker died: {one_line(e, 200) if str(e) else type(e).__name__}"
                        print(
                            f"prover batch: warning: ray-{i} died on {job.key} attempt {job.attempt}", file=sys.stderr
                        )
                        if tries < last:  # the next try on another actor goes on counting
                            again = dataclasses.replace(job, prior_tries=tries, last_try=last)
                            todo.appendleft((again, tries + 1, last))
                        else:
                            on_row(_row(job, f"ray-{i}", msg, tries, sent))
                        deaths[i] += 1
                        if deaths[i] > b.ray_max_restarts:  # Ray gave up restarting it: start a new one
                            self._actors[i] = self._new_prover(i, gen_of[i])
                            deaths[i] = 0
                    except RayTaskError as e:
                        cause = getattr(e, "cause", None)
                        if isinstance(cause, FatalError) or "FatalError" in str(e).splitlines()[0]:
                            fatal = fatal or str(cause or e).splitlines()[0]
                            stop.set()
                            print(
                                f"prover batch: error: {fatal}; stopping (the running attempts finish)",
                                file=sys.stderr,
                            )
                        else:
                            on_row(_row(job, f"ray-{i}", f"worker crashed: {e}", tries, sent))
                    else:
                        waits[i] = 0
                        on_row(row)
                    submit(i)
        except KeyboardInterrupt:
            stop.set()
            raise
        finally:
            self._collect_stats(ray, GetTimeoutError)
        return fatal

    def _collect_stats(self, ray: Any, timeout_error: type) -> None:
        stats = {"calls": 0, "states": 0, "requests": 0}
        for g in self._gens:
            with contextlib.suppress(Exception):
                s = ray.get(g.stats.remote(), timeout=10)
                for k in stats:
                    stats[k] += int(s.get(k, 0))
        if self._gens:
            self.generator_stats = stats

    def close(self) -> None:
        ray = _ray()
        for a in self._actors:
            with contextlib.suppress(Exception):
                ray.get(a.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(a)
        for g in self._gens:
            with contextlib.suppress(Exception):
                ray.kill(g)
        self._actors, self._gens = [], []


def _row(job: Job, worker: str, error: str, tries: int, started: float) -> AttemptRow:
    return AttemptRow(
        theorem=job.key,
        attempt=job.attempt,
        seed=job.seed,
        status="error",
        error=" ".join(error.split())[:300],
        worker=worker,
        started=started,
        tries=tries,
    )
