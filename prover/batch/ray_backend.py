"""The batch on a Ray cluster: ``prover batch ... --ray auto|ADDRESS|local``.

* **Generator actors** (``batch.ray_generator_actors``, each ``batch.ray_generator_gpus`` GPUs): one
  tactic generator each (a vLLM engine, an HF model), built by the `AgentFactory`, for the modes that search
  with the step prover (step, hybrid, sketch with ``sketch.search``). They are threaded actors whose generator
  sits behind a `BatchingGenerator`, so concurrent requests from many prover actors become one batched GPU
  call. With ``ray_generator_actors = 0`` every prover actor builds its own generator (an HTTP endpoint, the
  automation portfolio, test generators).
* **Model actors** (``batch.ray_completion_actors`` per model, each ``batch.ray_completion_gpus`` GPUs; by
  default as many and as large as the generator actors): the completion models of the whole-proof modes — the
  whole-proof model (whole, repair, hybrid, sketch's sub-lemmas) and sketch mode's draft and sketch models (one
  actor when both are the same local model). Each serves one `prover.models.whole.CompletionBackend` behind
  `BatchingCompletions`; a prover actor reaches it through `RayCompletionProxy`, its `BackendSource`. The
  prompts, seeds and budgets are the prover actor's own (the mode runs there, exactly as on threads); only
  ``complete`` crosses. Models behind HTTP or replayed from a file get no actor (each prover actor talks to the
  server / reads the file itself), nor does anything when ``ray_completion_actors = 0``.
* **Prover actors** (``batch.workers`` of them, ``batch.ray_prover_cpus`` CPUs each): one `Worker` with one
  Lean REPL process each, running the mode with the models above.
* **The driver** (this process) owns the store: it hands each prover actor one job at a time, writes every
  row as it comes back, and resumes exactly like the local backend (finished attempts are never resent).
  A prover actor that dies (segfault, OOM kill, node lost) is restarted by Ray (``ray_max_restarts``) or
  replaced; its job is resent up to ``batch.retries`` times (``batch.max_tries`` in all), then recorded as
  ``error``, which a resumed run redoes. A generator or model actor that dies is restarted by Ray (reloading
  its model); the attempts whose requests it was serving end in an infrastructure error and are redone the
  same way; one that cannot be restarted (its model fails to load) stops the batch, as a model that cannot
  be loaded at the start does (finished results are kept).

Every actor shares its fate with the driver (Ray ends an actor whose owner died; a prover actor's REPLs die
with it through `prover.lean.reaper`; vLLM ends its engine process with its parent).

The Lean project (``lean.project_dir``) and this package must be at the same paths on every node (a shared
file system, as on most Slurm clusters); see ``scripts/ray_slurm_start.sh`` and ``scripts/slurm_batch.sbatch``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from prover.batch.runner import (
    AgentFactory,
    AttemptRow,
    Backend,
    BatchingCompletions,
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


class ModelActorDied(RuntimeError):
    """The Ray actor serving a model died while it had this request (the attempt is redone)."""


def _died(handle: Any, what: str, e: BaseException, patience: float = 1800.0) -> ModelActorDied:
    """The actor serving ``what`` died with a request (Ray says so with `ActorUnavailableError` when it will
    restart it, which also answers requests sent while it restarts): wait until it is back (loading its model
    may take minutes; at most ``patience`` s), so the attempt, redone within its try budget, finds it."""
    ray = _ray()
    from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            ray.get(handle.ready.remote(), timeout=60)
            break
        except ActorUnavailableError:  # restarting
            time.sleep(1.0)
        except GetTimeoutError:  # loading
            continue
        except RayActorError:  # dead for good (the driver stops the batch)
            break
    return ModelActorDied(f"the {what}'s Ray actor died with the request: {_cause(e)}")


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
        from ray.exceptions import RayActorError

        ctx = list(contexts) if contexts is not None else None
        try:
            return ray.get(self.handle.generate.remote(list(states), premises, n, ctx))
        except RayActorError as e:  # as `RayCompletionProxy`
            raise _died(self.handle, "tactic generator", e) from e


class RayCompletionProxy:
    """A `prover.models.whole.CompletionBackend` whose ``complete`` runs on the model actor serving ``role``.
    An actor that dies with the request (Ray restarts it) raises `ModelActorDied` once it is back: the attempt
    ends in an infrastructure error and is redone within its try budget, as when a prover actor dies. The actor
    belongs to the driver: `close` leaves it alone."""

    def __init__(self, handle: Any, role: str) -> None:
        self.handle = handle
        self.role = role

    def complete(self, prompts: Sequence[Any], n: int, seeds: Sequence[int | None] | None = None) -> list[Any]:
        ray = _ray()
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return ray.get(self.handle.complete.remote(list(prompts), n, list(seeds) if seeds is not None else None))
        except RayActorError as e:  # also ActorUnavailableError: what Ray says of a request its actor died with
            raise _died(self.handle, f"{self.role} model", e) from e
        except RayTaskError as e:  # the backend raised: the same exception as on threads
            cause = getattr(e, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise

    def close(self) -> None:
        """The actor is the driver's."""


class RayModelSource:
    """A prover actor's `prover.models.whole.BackendSource`: a proxy to the model actor of each role that has
    one, else the model built here (an HTTP client, a replay file, or ``ray_completion_actors = 0``)."""

    def __init__(self, factory: AgentFactory, config: ProverConfig, handles: dict[str, Any]) -> None:
        self.factory, self.config, self.handles = factory, config, handles

    def __call__(self, role: str, cfg: Any, opts: dict[str, Any], *, logprobs: bool) -> Any:
        handle = self.handles.get(role)
        if handle is not None:
            return RayCompletionProxy(handle, role)
        return self.factory.build_completion_backend(self.config, role, cfg, opts, logprobs)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model actor needs to build one completion backend (a `BackendSource` call's arguments)."""

    role: str
    cfg: Any
    opts: dict[str, Any]
    logprobs: bool

    @property
    def in_process(self) -> bool:
        """Loaded into the process that serves it (hf / vllm), not a server's client or a replay file."""
        return self.cfg.backend != "openai" and self.cfg.replay_path is None


class _Unbuilt:
    def complete(self, prompts: Sequence[Any], n: int, seeds: Sequence[int | None] | None = None) -> list[Any]:
        raise RuntimeError("not built")

    def close(self) -> None:
        pass


class _SpecSource:
    """A `BackendSource` that loads nothing and notes which completion models a mode asks for."""

    def __init__(self) -> None:
        self.specs: dict[str, ModelSpec] = {}

    def __call__(self, role: str, cfg: Any, opts: dict[str, Any], *, logprobs: bool) -> Any:
        self.specs[role] = ModelSpec(role, cfg, dict(opts), logprobs)
        return _Unbuilt()


def completion_models(factory: AgentFactory, config: ProverConfig) -> list[ModelSpec]:
    """The completion models ``config.mode`` uses, by role, as the workers would build them (the same building
    code runs, with a source that loads nothing). A factory that replaces the whole-proof generator or the
    sketch models altogether builds them in every prover actor: they are not listed."""
    src = _SpecSource()
    if config.uses_whole_model and factory.proof_generator_fn is None:
        factory.build_proof_generator(config, src)
    if config.uses_sketch_models and factory.sketch_models_fn is None:
        factory.build_sketch_models(config, src)
    return list(src.specs.values())


class _ModelActor:
    """One completion model behind `BatchingCompletions`: the requests of every prover actor it serves become
    batched calls of one engine."""

    def __init__(self, factory: AgentFactory, config: ProverConfig, spec: ModelSpec, callers: int) -> None:
        b = config.batch
        inner = factory.build_completion_backend(config, spec.role, spec.cfg, spec.opts, spec.logprobs)
        self.backend = BatchingCompletions(
            inner,
            callers=max(1, callers),
            window=b.batch_window_ms / 1000.0,
            max_states=b.max_batch_states,
            adaptive=b.batch_window_mode == "adaptive",
        )

    def ready(self) -> bool:
        return True

    def complete(self, prompts: list[Any], n: int, seeds: list[int | None] | None) -> list[Any]:
        return self.backend.complete(prompts, n, seeds)

    def stats(self) -> dict[str, int]:
        return self.backend.stats()

    def close(self) -> None:
        self.backend.close()


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

    def ready(self) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return self.gen.stats()


class _ProverActor:
    def __init__(
        self, factory: AgentFactory, config: ProverConfig, generator: Any, name: str, models: dict[str, Any]
    ) -> None:
        proxy = RayGeneratorProxy(generator) if generator is not None else None
        self.shared = factory.open(config, 1, generator=proxy, backends=RayModelSource(factory, config, models))
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
    """Prover actors + generator and model actors on a Ray cluster; the driver writes the store."""

    name = "ray"

    def __init__(self, config: ProverConfig, factory: AgentFactory | None = None, *, poll: float = 0.2) -> None:
        super().__init__()
        self.config = config
        self.factory = factory or AgentFactory()
        self.poll = poll
        self._actors: list[Any] = []
        self._gens: list[Any] = []
        self._models: dict[str, list[Any]] = {}  # role -> its model actors

    def _new_prover(self, i: int, gen: Any, models: dict[str, Any]) -> Any:
        ray = _ray()
        b = self.config.batch
        cls = ray.remote(_ProverActor).options(
            num_cpus=b.ray_prover_cpus, max_restarts=b.ray_max_restarts, max_task_retries=0
        )
        return cls.remote(self.factory, self.config, gen, f"ray-{i}", models)

    def _plan(self, ray: Any, n: int) -> tuple[int, int, int, list[ModelSpec]]:
        """How many prover, generator and model actors (per served model) to start, and the served models;
        one line when the cluster cannot hold them."""
        b = self.config.batch
        n_gen = min(b.ray_generator_actors, n) if self.config.uses_step_model else 0
        models = completion_models(self.factory, self.config)
        per_model = b.ray_completion_actors if b.ray_completion_actors is not None else b.ray_generator_actors
        served = [m for m in models if m.in_process] if per_model > 0 else []
        if per_model == 0:
            for m in models:
                if m.in_process and n > 1:
                    print(
                        f"prover batch: warning: batch.ray_completion_actors = 0: each of {n} prover actors loads "
                        f"its own copy of the {m.role} model {m.cfg.model}",
                        file=sys.stderr,
                    )
        n_model = min(per_model, n) if served else 0
        gpus_model = b.ray_completion_gpus if b.ray_completion_gpus is not None else b.ray_generator_gpus
        res = ray.cluster_resources()
        parts = []
        if n_gen:
            parts.append((f"{n_gen} generator actor(s) × {b.ray_generator_gpus:g}", n_gen * b.ray_generator_gpus))
        if n_model:
            roles = ", ".join(m.role for m in served)
            count = n_model * len(served)
            parts.append((f"{count} model actor(s) ({roles}) × {gpus_model:g}", count * gpus_model))
        gpus_needed = sum(g for _, g in parts)
        if gpus_needed > float(res.get("GPU", 0.0)) + 1e-9:
            raise UserError(
                f"the Ray cluster has {res.get('GPU', 0):g} GPU(s); {' + '.join(p for p, _ in parts)} need "
                f"{gpus_needed:g} (set batch.ray_generator_gpus / batch.ray_completion_gpus = 0 to run the models "
                "on CPU, or batch.ray_generator_actors / batch.ray_completion_actors = 0 to build them in every "
                "prover)"
            )
        fit = int(float(res.get("CPU", 0.0)) // b.ray_prover_cpus) if b.ray_prover_cpus > 0 else n
        if fit < 1:
            raise UserError(f"the Ray cluster has {res.get('CPU', 0):g} CPU(s): no room for a prover actor")
        if n > fit:  # actors that cannot be placed would hold their jobs forever
            msg = f"the Ray cluster fits {fit} prover actor(s), not {n}; using {fit}"
            print(f"prover batch: warning: {msg}", file=sys.stderr)
            n = fit
        return n, min(n_gen, n), min(n_model, n), served

    def _start(self, ray: Any, n: int, n_gen: int, n_model: int, served: list[ModelSpec]) -> None:
        b = self.config.batch
        # Ray restarts a generator or model actor that dies (each time loading its model again): the prover
        # actors hold its handle, so it is never replaced
        if n_gen > 0:
            gcls = ray.remote(_GeneratorActor).options(
                num_gpus=b.ray_generator_gpus, num_cpus=0, max_concurrency=n // n_gen + 2, max_restarts=-1
            )
            self._gens = [gcls.remote(self.factory, self.config, n // n_gen + 1) for _ in range(n_gen)]
        if n_model > 0:
            gpus = b.ray_completion_gpus if b.ray_completion_gpus is not None else b.ray_generator_gpus
            mcls = ray.remote(_ModelActor).options(
                num_gpus=gpus, num_cpus=0, max_concurrency=n // n_model + 2, max_restarts=-1
            )
            self._models = {
                m.role: [mcls.remote(self.factory, self.config, m, n // n_model + 1) for _ in range(n_model)]
                for m in served
            }
        self._gen_of = [self._gens[i % n_gen] if n_gen else None for i in range(n)]
        self._models_of = [{role: a[i % n_model] for role, a in self._models.items()} for i in range(n)]
        self._actors = [self._new_prover(i, self._gen_of[i], self._models_of[i]) for i in range(n)]

    def _model_actors(self) -> list[tuple[str, Any]]:
        return [("tactic generator", g) for g in self._gens] + [
            (role, a) for role, actors in self._models.items() for a in actors
        ]

    def _await_models(self, ray: Any, stop: threading.Event) -> str | None:
        """Wait until every generator and model actor has loaded its model; a fatal line if one cannot."""
        refs = {a.ready.remote(): role for role, a in self._model_actors()}
        while refs and not stop.is_set():
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=self.poll)
            for ref in ready:
                role = refs.pop(ref)
                try:
                    ray.get(ref)
                except Exception as e:  # noqa: BLE001 - its constructor raised (ModelLoadError, …) or it died
                    return f"the {role} model cannot be loaded on its Ray actor: {_cause(e)}"
        return None

    def _dead_model(self, ray: Any) -> str | None:
        """A fatal line when a generator or model actor is dead for good (Ray could not restart it)."""
        from ray.exceptions import ActorDiedError, ActorUnavailableError

        probes = {a.ready.remote(): role for role, a in self._model_actors()}
        ready, _ = ray.wait(list(probes), num_returns=len(probes), timeout=2.0)
        for ref in ready:
            try:
                ray.get(ref)
            except ActorUnavailableError:  # restarting
                continue
            except ActorDiedError as e:
                return f"the {probes[ref]} model's Ray actor died and cannot be restarted: {_cause(e)}"
        return None

    def run(self, jobs: list[Job], on_row: Callable[[AttemptRow], None], stop: threading.Event) -> str | None:
        if not jobs:
            return None
        ray = _ray()
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayTaskError

        b = self.config.batch
        init_ray(b.ray_address)
        n, n_gen, n_model, served = self._plan(ray, min(b.workers, len(jobs)))
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

        def stop_with(msg: str) -> None:
            nonlocal fatal
            fatal = fatal or msg
            stop.set()
            print(f"prover batch: error: {fatal}; stopping (the running attempts finish)", file=sys.stderr)

        try:
            self._start(ray, n, n_gen, n_model, served)
            fatal = self._await_models(ray, stop)
            if fatal:
                return fatal
            for i in range(n):
                submit(i)
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
                            self._actors[i] = self._new_prover(i, self._gen_of[i], self._models_of[i])
                            deaths[i] = 0
                    except RayTaskError as e:
                        cause = getattr(e, "cause", None)
                        if isinstance(cause, FatalError) or "FatalError" in str(e).splitlines()[0]:
                            stop_with(str(cause or e).splitlines()[0])
                        else:
                            on_row(_row(job, f"ray-{i}", f"worker crashed: {e}", tries, sent))
                    else:
                        waits[i] = 0
                        on_row(row)
                        if row.status == "error" and ModelActorDied.__name__ in (row.error or "") and not fatal:
                            dead = self._dead_model(ray)
                            if dead:
                                stop_with(dead)
                    submit(i)
        except KeyboardInterrupt:
            stop.set()
            raise
        finally:
            self._collect_stats(ray, GetTimeoutError)
        return fatal

    def _collect_stats(self, ray: Any, timeout_error: type) -> None:
        stats: dict[str, Any] = {}
        if self._gens:
            stats = {"calls": 0, "states": 0, "requests": 0}
            for g in self._gens:
                with contextlib.suppress(Exception):
                    s = ray.get(g.stats.remote(), timeout=10)
                    for k in ("calls", "states", "requests"):
                        stats[k] += int(s.get(k, 0))
        models: dict[str, dict[str, int]] = {}
        for role, actors in self._models.items():
            models[role] = {"calls": 0, "states": 0, "requests": 0}
            for a in actors:
                with contextlib.suppress(Exception):
                    s = ray.get(a.stats.remote(), timeout=10)
                    for k in models[role]:
                        models[role][k] += int(s.get(k, 0))
        if models:
            stats["models"] = models
        if stats:
            self.generator_stats = stats

    def close(self) -> None:
        ray = _ray()
        for a in self._actors:
            with contextlib.suppress(Exception):
                ray.get(a.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(a)
        for role, m in self._model_actors():
            if role != "tactic generator":  # a completion backend can shut down (a vLLM engine cleanly)
                with contextlib.suppress(Exception):
                    ray.get(m.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(m)
        self._actors, self._gens, self._models = [], [], {}


def _cause(e: BaseException) -> str:
    """One line saying why a Ray actor or task failed: the exception its constructor or task raised (the last
    unindented line of Ray's text, which ends with that exception's own traceback), else Ray's first line."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", x).rstrip() for x in str(e).splitlines()]
    raised = [x for x in lines[1:] if x and not x[0].isspace() and re.match(r"[\w.]+(: |$)", x)]
    return one_line(raised[-1] if raised else (lines[0] if lines else type(e).__name__), 300)


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
