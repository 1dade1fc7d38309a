"""The lock that gives one process the right to write a run directory (batch runs, mutation runs)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from prover.errors import UserError

LOCK_NAME = "lock"


class RunLock:
    """Exclusive right to write a run directory, for as long as the ``with`` block lasts.

    An ``flock`` on ``RUN_DIR/lock`` (released by the kernel when the process dies, even by ``kill -9``, so
    there is never a stale lock); the file names its holder for the message a second batch gets.
    """

    def __init__(self, run_dir: Path | str, command: str = "prover batch") -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(f"cannot create the lock file {self.path}: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(
                    f"{self.path.parent} is in use by another `{self.command}`{holder}; wait for it to finish "
                    "(re-running the command then resumes), or use another --out"
                ) from e
            raise UserError(f"cannot lock {self.path}: {e.strerror or e}") from e
        self._fd = fd
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        with contextlib.suppress(OSError):  # informational only (the disk may be full)
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(info["since"])))
        return f" (pid {int(info['pid'])} on {info['host']}, since {when})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
