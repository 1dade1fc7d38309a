"""A pool of REPL processes keyed by header, safe to share between threads.

``with pool.acquire(header) as proc:`` hands out one process for exclusive use, with ``header``'s env ready
(``proc.header_env(header)`` returns it at no cost). It prefers an idle process that already has this
header, then a fresh idle one, then starts a new process while fewer than ``config.num_processes`` exist,
then takes the least recently used idle one (which elaborates the header in addition to its others); when
all processes are busy it blocks until one is released. Processes start lazily, outside the pool's lock.

With ``config.replay_path`` the pool hands out `ReplayProcess` objects answering from that recording.
Several worker *processes* each make their own pool.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prover.lean.config import LeanConfig
from prover.lean.repl import ReplBase, ReplProcess
from prover.lean.types import LeanSetupError


class ReplPool:
    def __init__(
        self,
        config: LeanConfig,
        *,
        command: list[str] | None = None,
        cwd: Path | None = None,
        factory: Callable[[], ReplBase] | None = None,
    ) -> None:
        self.config = config
        self.size = max(1, int(config.num_processes))
        if factory is None:
            if config.replay_path is not None:
                from prover.lean.record import Recording, ReplayProcess

                recording = Recording(config.replay_path)

                def factory() -> ReplBase:
                    return ReplayProcess(recording, config)

            else:

                def factory() -> ReplBase:
                    return ReplProcess(config, command=command, cwd=cwd)

        self._factory = factory
        self._procs: list[ReplBase] = []
        self._busy: set[int] = set()  # ids of busy processes
        self._last_used: dict[int, int] = {}
        self._clock = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    @property
    def processes(self) -> list[ReplBase]:
        with self._cond:
            return list(self._procs)

    def _pick(self, header: str) -> ReplBase | None:
        idle = [p for p in self._procs if id(p) not in self._busy]
        with_header = [p for p in idle if p.has_header(header)]
        if with_header:
            return with_header[0]
        fresh = [p for p in idle if not p._known_headers]
        if fresh:
            return fresh[0]
        if len(self._procs) < self.size:
            p = self._factory()
            self._procs.append(p)
            return p
        if idle:
            return min(idle, key=lambda p: self._last_used.get(id(p), -1))
        return None

    @contextmanager
    def acquire(self, header: str) -> Iterator[ReplProcess]:
        with self._cond:
            while True:
                if self._closed:
                    raise LeanSetupError("the REPL pool is closed")
                proc = self._pick(header)
                if proc is not None:
                    break
                self._cond.wait()
            self._busy.add(id(proc))
        try:
            try:
                proc.start()
                proc.header_env(header)
            except LeanSetupError:
                self._discard(proc)
                raise
            yield proc  # type: ignore[misc]
        finally:
            with self._cond:
                self._busy.discard(id(proc))
                self._last_used[id(proc)] = next(self._clock)
                if self._closed:
                    proc.close()
                self._cond.notify()

    def _discard(self, proc: ReplBase) -> None:
        with self._cond:
            if proc in self._procs:
                self._procs.remove(proc)
        with contextlib.suppress(Exception):
            proc.close()

    def close(self) -> None:
        """Close every process (busy ones too: their pending requests fail with `LeanCrashed`)."""
        with self._cond:
            self._closed = True
            procs = list(self._procs)
            self._cond.notify_all()
        for p in procs:
            with contextlib.suppress(Exception):
                p.close()

    def __enter__(self) -> ReplPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
