"""``prover data mutate``: the pipeline over a source tree, resumable, on local workers or Ray.

* **Selection**: the source's files in path order (``--files`` globs, ``--leandojo`` narrowing), the first
  ``--limit`` theorems; recorded in the store once, so a resumed run works on the same selection.
* **Jobs** are files: a worker leases one REPL process (from a `ReplPool` keyed by the file's import header)
  and visits the file's theorems in order, so the file is elaborated once (`data.mutate.places`).
* **Local backend**: ``mutate.workers`` threads sharing one pool (the work is in the Lean processes).
  **Ray backend** (``--ray auto|ADDRESS|local``): one actor per worker with its own REPL process; its events
  stream back to the driver as they happen (a Ray streaming generator), so a killed driver loses only what was
  in flight, as locally.
* **The driver** owns the store (`data.mutate.store`) and writes every event in its own transaction; at the
  end it writes the outputs from the store (`data.mutate.output`), so they always describe everything done so
  far, this session or earlier ones.
* **Faults**: a theorem whose work raised an infrastructure error is redone (``mutate.retries`` times, in a
  fresh job) and then left as ``error`` for the next resume; `LeanSetupError` (no Lean / REPL) stops the run
  with its one-line message, keeping what is finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data.mutate.candidates import iter_source_files
from data.mutate.pipeline import CandidateJob, Event, FileJob, MutationWorker, Prefilter, run_file
from data.mutate.store import MutationStore
from prover.config import ProverConfig
from prover.errors import UserError
from prover.lean.config import LeanConfig
from prover.lean.types import LeanSetupError
from prover.runlock import RunLock

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    selected: int = 0  # theorems in the selection (all sessions)
    processed: int = 0  # theorems finished this session (found / done / skipped / error)
    events: int = 0
    requests: int = 0  # Lean requests made this session
    seconds: float = 0.0
    fatal: str | None = None
    interrupted: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Selecting the work


def select(store: MutationStore, root: Path, files: list[str], selection: set[tuple[str, str]] | None,
           limit: int | None) -> int:
    """Record the run's selection in the store (first session only); returns its size."""
    existing = store.candidates()
    if existing:
        return sum(1 for c in existing if c["status"] != "skipped" or c["reason"] is None)
    rows: list[tuple[str, str, str, int]] = []
    skipped: list[tuple[str, str, str, int, str]] = []
    for sf in iter_source_files(root, files, selection):
        for c in sf.candidates:
            if limit is not None and len(rows) >= limit:
                break
            rows.append((c.key, c.name, c.file, c.line))
        for key, why in sf.skipped:
            _file, line, name = key.split(":", 2)
            skipped.append((key, name, sf.path, int(line), why))
        if limit is not None and len(rows) >= limit:
            break
    if not rows and not skipped:
        raise UserError(f"no theorems found in {root}" + (f" matching {', '.join(files)}" if files else ""))
    store.add_candidates(rows, skipped)
    return len(rows)


def pending_jobs(store: MutationStore, root: Path, *, retry_errors: bool = True) -> list[FileJob]:
    """Jobs for what is not finished: rediscover ``pending`` (and ``error``) theorems, verify the unfinished
    mutants of ``found`` ones. Files are re-read; a theorem no longer in its file is skipped."""
    rows = [c for c in store.candidates() if c["status"] in ("pending", "found") or
            (retry_errors and c["status"] == "error")]
    by_file: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    jobs: list[FileJob] = []
    from data.mutate.candidates import file_candidates

    for path in sorted(by_file):
        try:
            sf = file_candidates(root, path)
        except (OSError, UnicodeDecodeError) as e:
            for r in by_file[path]:
                store.record_status(r["key"], "skipped", f"cannot read {path}: {e}")
            continue
        by_key = {c.key: c for c in sf.candidates}
        cjobs: list[CandidateJob] = []
        for r in sorted(by_file[path], key=lambda r: r["line"]):
            c = by_key.get(r["key"])
            if c is None:
                store.record_status(r["key"], "skipped", f"no longer in {path} (the source changed)")
                continue
            pending = store.unfinished_mutants(c.key) if r["status"] == "found" else None
            cjobs.append(CandidateJob(c, pending))
        if cjobs:
            sf.candidates = [cj.candidate for cj in cjobs]
            jobs.append(FileJob(sf, cjobs))
    return jobs


# ---------------------------------------------------------------------------------------------------
# Backends


class LocalBackend:
    """``workers`` threads, one shared `ReplPool`; a file job holds one process for its whole file."""

    name = "local"

    def __init__(self, config: ProverConfig, prefilter: Prefilter, *, pool_factory: Callable[[LeanConfig], Any]
                 | None = None) -> None:
        self.config = config
        self.prefilter = prefilter
        self.pool_factory = pool_factory

    def run(self, jobs: list[FileJob], emit: Callable[[Event], None], stop: threading.Event) -> int:
        from prover.lean.pool import ReplPool

        cfg = self.config
        lean = cfg.lean.model_copy(update={"num_processes": cfg.mutate.workers})
        pool = self.pool_factory(lean) if self.pool_factory else ReplPool(lean)
        work: queue.Queue[FileJob] = queue.Queue()
        for j in jobs:
            work.put(j)
        fatal: list[BaseException] = []
        requests = [0]
        lock = threading.Lock()

        def worker_main() -> None:
            w = MutationWorker(cfg.mutate, self.prefilter, timeout=cfg.lean.timeout,
                               allowed_axioms=cfg.lean.allowed_axioms)
            while not stop.is_set() and not fatal:
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    with pool.acquire(job.file.header) as proc:
                        before = proc.total_requests
                        try:
                            run_file(w, proc, job, lambda e: None if stop.is_set() else emit(e))
                        finally:
                            with lock:
                                requests[0] += proc.total_requests - before
                            w.places.forget(proc)
                            with contextlib.suppress(Exception):
                                proc.maybe_recycle()
                except LeanSetupError as e:
                    fatal.append(e)
                    stop.set()
                    return
                except Exception as e:  # noqa: BLE001 - a worker must never die silently
                    log.exception("worker failed on %s", job.file.path)
                    for cj in job.jobs:
                        emit(Event("error", cj.candidate.key, reason=f"{type(e).__name__}: {e}"[:300]))

        threads = [threading.Thread(target=worker_main, name=f"mutate-{i}", daemon=True)
                   for i in range(min(cfg.mutate.workers, max(1, len(jobs))))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        finally:
            stop.set()
            pool.close()
        if fatal:
            raise fatal[0]
        return requests[0]


class _RayWorker:
    """A Ray actor: one REPL process, one `MutationWorker`; yields events as they happen."""

    def __init__(self, config: ProverConfig, prefilter: Prefilter) -> None:
        from prover.lean.pool import ReplPool

        self.config = config
        lean = config.lean.model_copy(update={"num_processes": 1})
        self.pool = ReplPool(lean)
        self.worker = MutationWorker(config.mutate, prefilter, timeout=config.lean.timeout,
                                     allowed_axioms=config.lean.allowed_axioms)
        self.requests = 0

    def run(self, job: FileJob) -> Iterator[Event]:
        events: queue.Queue[Event | None] = queue.Queue()
        errors: list[BaseException] = []

        def body() -> None:
            try:
                with self.pool.acquire(job.file.header) as proc:
                    before = proc.total_requests
                    try:
                        run_file(self.worker, proc, job, events.put)
                    finally:
                        self.requests += proc.total_requests - before
                        self.worker.places.forget(proc)
            except BaseException as e:  # noqa: BLE001 - handed to the driver
                errors.append(e)
            finally:
                events.put(None)

        t = threading.Thread(target=body, daemon=True)
        t.start()
        while True:
            e = events.get()
            if e is None:
                break
            yield e
        t.join()
        if errors:
            err = errors[0]
            if isinstance(err, LeanSetupError):
                yield Event("fatal", "", reason=str(err))
            else:
                raise err

    def stats(self) -> int:
        return self.requests


def _init_ray(address: str | None) -> Any:
    """Connect to (``auto`` / ``HOST:PORT`` / ``ray://…``) or start (``local``) a Ray cluster, once."""
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dependency
        raise UserError("--ray needs the `ray` package: pip install 'ray[default]'") from e
    if not ray.is_initialized():
        try:
            if address in (None, "", "local"):
                ray.init(log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except Exception as e:  # noqa: BLE001 - ray raises many types here
            raise UserError(f"cannot start/connect Ray ({address!r}): {type(e).__name__}: {e}") from e
    return ray


class RayBackend:
    name = "ray"

    def __init__(self, config: ProverConfig, prefilter: Prefilter) -> None:
        self.config = config
        self.prefilter = prefilter

    def run(self, jobs: list[FileJob], emit: Callable[[Event], None], stop: threading.Event) -> int:
        ray = _init_ray(self.config.mutate.ray_address)
        m = self.config.mutate
        pre = ray.put(self.prefilter)
        cls = ray.remote(_RayWorker).options(num_cpus=m.ray_cpus, max_restarts=m.ray_max_restarts,
                                             max_task_retries=0)
        n = min(m.workers, len(jobs))
        actors = [cls.remote(self.config, pre) for _ in range(n)]
        todo = list(jobs)
        running: dict[Any, tuple[Any, FileJob]] = {}  # generator ref → (actor, job)
        finished_keys: set[str] = set()
        fatal: str | None = None
        try:
            idle = list(actors)
            while (todo or running) and not stop.is_set():
                while idle and todo:
                    a, j = idle.pop(), todo.pop(0)
                    gen = a.run.options(num_returns="streaming").remote(j)
                    running[gen] = (a, j)
                if not running:
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                for gen in ready:
                    a, j = running[gen]
                    try:
                        ref = next(gen)
                    except StopIteration:
                        del running[gen]
                        idle.append(a)
                        continue
                    except Exception as e:  # noqa: BLE001 - the actor died (Ray restarts it)
                        del running[gen]
                        idle.append(a)
                        for cj in j.jobs:
                            if cj.candidate.key not in finished_keys:
                                emit(Event("error", cj.candidate.key, reason=f"Ray worker failed: {e}"[:300]))
                        continue
                    try:
                        ev = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - the actor raised or died mid-job
                        del running[gen]
                        idle.append(a)
                        for cj in j.jobs:
                            if cj.candidate.key not in finished_keys:
                                emit(Event("error", cj.candidate.key, reason=f"Ray worker failed: {e}"[:300]))
                        continue
                    if ev.kind == "fatal":
                        fatal = ev.reason
                        stop.set()
                        break
                    if ev.kind in ("done", "skipped", "error"):
                        finished_keys.add(ev.candidate)
                    emit(ev)
            requests = sum(ray.get([a.stats.remote() for a in actors]))
        finally:
            for a in actors:
                with contextlib.suppress(Exception):
                    ray.kill(a)
        if fatal:
            raise LeanSetupError(fatal)
        return requests


# ---------------------------------------------------------------------------------------------------
# The driver


class MutationRun:
    def __init__(self, config: ProverConfig, root: Path, out_dir: Path, prefilter: Prefilter, *,
                 files: list[str] | None = None, selection: set[tuple[str, str]] | None = None,
                 limit: int | None = None, backend: Any | None = None, progress: bool = True,
                 argv: list[str] | None = None) -> None:
        self.config = config
        self.root = Path(root)
        self.out_dir = Path(out_dir)
        self.prefilter = prefilter
        self.files = list(files or [])
        self.selection = selection
        self.limit = limit
        self.backend = backend or LocalBackend(config, prefilter)
        self.progress = progress
        self.argv = argv or sys.argv

    def run(self) -> RunSummary:
        from tqdm import tqdm

        from data.mutate.output import write_outputs

        t0 = time.perf_counter()
        summary = RunSummary()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self.out_dir, "prover data mutate").acquire()  # one writer per output directory
        store = MutationStore.in_dir(self.out_dir)
        try:
            self._check_meta(store)
            summary.selected = select(store, self.root, self.files, self.selection, self.limit)
            session = store.start_session(argv=self.argv, backend=self.backend.name,
                                          workers=self.config.mutate.workers, source=str(self.root))
            retries = self.config.mutate.retries
            jobs = pending_jobs(store, self.root)
            total = sum(len(j.jobs) for j in jobs)
            bar = tqdm(total=total, desc="mutating", unit="thm", disable=not self.progress)
            events: queue.Queue[Event] = queue.Queue()
            stop = threading.Event()
            redo: dict[str, int] = {}
            outcome: dict[str, Any] = {}

            def backend_main(jobs: list[FileJob]) -> None:
                try:
                    outcome["requests"] = outcome.get("requests", 0) + self.backend.run(jobs, events.put, stop)
                except LeanSetupError as e:
                    outcome["fatal"] = str(e)
                except BaseException as e:  # noqa: BLE001 - reported by the driver
                    outcome["fatal"] = f"{type(e).__name__}: {e}"
                finally:
                    events.put(Event("end", ""))

            rounds = [jobs]
            try:
                while rounds:
                    batch = rounds.pop(0)
                    th = threading.Thread(target=backend_main, args=(batch,), daemon=True)
                    th.start()
                    errored: list[str] = []
                    while True:
                        ev = events.get()
                        if ev.kind == "end":
                            break
                        summary.events += 1
                        self._write(store, ev, session)
                        if ev.kind in ("done", "skipped", "error"):
                            summary.processed += 1
                            bar.update(1)
                        if ev.kind == "error":
                            errored.append(ev.candidate)
                    th.join()
                    if "fatal" in outcome:
                        summary.fatal = outcome["fatal"]
                        break
                    again = [k for k in errored if redo.get(k, 0) < retries]
                    for k in again:
                        redo[k] = redo.get(k, 0) + 1
                    if again:
                        keys = set(again)
                        retry_jobs = [j for j in pending_jobs(store, self.root) if
                                      any(cj.candidate.key in keys for cj in j.jobs)]
                        for j in retry_jobs:
                            j.jobs = [cj for cj in j.jobs if cj.candidate.key in keys]
                        if retry_jobs:
                            bar.total += sum(len(j.jobs) for j in retry_jobs)
                            rounds.append(retry_jobs)
            except KeyboardInterrupt:
                stop.set()
                summary.interrupted = True
            finally:
                bar.close()
            summary.requests = int(outcome.get("requests", 0))
            summary.seconds = time.perf_counter() - t0
            summary.counts = store.counts()
            write_outputs(store, self.out_dir, self.root, summary)
        finally:
            store.close()
            lock.release()
        return summary

    def _check_meta(self, store: MutationStore) -> None:
        """A run directory holds one run: the same source, kinds and selection on every resume."""
        sel = sorted(f"{f}:{n}" for f, n in self.selection) if self.selection is not None else None
        want = {
            "source": str(self.root.resolve()),
            "kinds": sorted(self.config.mutate.kinds),
            "files": sorted(self.files),
            "limit": self.limit,
            "selection": hashlib.sha1(json.dumps(sel).encode()).hexdigest()[:12] if sel is not None else None,
        }
        have = store.get_meta("run")
        if have is None:
            store.set_meta("run", want)
            return
        flags = {"source": "--source", "kinds": "--kinds", "files": "--files", "limit": "--limit",
                 "selection": "--leandojo"}
        for key, flag in flags.items():
            if have.get(key) != want[key]:
                raise UserError(f"{self.out_dir} holds a run with another {flag} ({have.get(key)!r}, now "
                                f"{want[key]!r}); resume it with the same arguments or use another --out")

    def _write(self, store: MutationStore, ev: Event, session: int) -> None:
        if ev.kind == "found":
            store.record_found(ev.candidate, ev.mutants, ev.discovery, ev.lean_calls, ev.seconds, session)
        elif ev.kind == "verified" and ev.mutant is not None and ev.verification is not None:
            store.record_checked(ev.mutant, ev.verification, ev.lean_calls, ev.seconds, session)
        elif ev.kind in ("skipped", "error"):
            store.record_status(ev.candidate, ev.kind, ev.reason, ev.lean_calls, ev.seconds, session)
        elif ev.kind == "done":
            store.record_status(ev.candidate, "done", session=session)
