"""Children die with their parent: the REPL process groups of a process are killed when it dies, however it
dies (``kill -9`` and OOM kills included).

REPL processes run in their own session (so a timeout can kill a ``lake env`` wrapper with its REPL), which
also means nothing kills them when the prover dies: they would be re-parented to init and run on (a real Lean
stuck in a tactic burns a core until its own end). ``PR_SET_PDEATHSIG`` is no answer: it reaches only the
direct child (``lake``, not the REPL under it), fires when the spawning *thread* ends, and is Linux-only.

So each process that spawns REPLs starts one small watchdog (``python -c``, in its own session so a
terminal's Ctrl-C does not reach it) that reads process-group ids from a pipe. The pipe's write end lives
only in the prover; when the prover dies the kernel closes it, the watchdog reads end-of-file, kills every
group still registered and exits. A group is unregistered once its process has been killed and reaped, so
an id the system later hands to another process is never killed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

# The watchdog: "+PGID" registers, "-PGID" unregisters; at end of input, SIGKILL every registered group.
_WATCHDOG = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    try:
        (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
    except (IndexError, ValueError):
        pass
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


class _Reaper:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _WATCHDOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        assert self.proc.stdin is not None
        self.stdin = self.proc.stdin
        self.lock = threading.Lock()

    def send(self, line: str) -> bool:
        with self.lock:
            try:
                self.stdin.write(f"{line}\n".encode())
                self.stdin.flush()
                return True
            except (OSError, ValueError):
                return False


_reaper: _Reaper | None = None
_lock = threading.Lock()


def _get() -> _Reaper | None:
    global _reaper
    with _lock:
        if _reaper is None or _reaper.pid != os.getpid() or _reaper.proc.poll() is not None:
            try:
                _reaper = _Reaper()
            except OSError as e:  # never stop Lean from starting because of this
                log.warning("cannot start the watchdog that kills REPLs when the prover dies: %s", e)
                _reaper = None
        return _reaper


def register(pgid: int) -> None:
    """Kill process group ``pgid`` when this process dies (unless `unregister` ran first)."""
    r = _get()
    if r is not None and not r.send(f"+{pgid}"):
        log.warning("the REPL watchdog is gone; process group %d will outlive a killed prover", pgid)


def unregister(pgid: int) -> None:
    """``pgid`` is dead and reaped: forget it (its id may be reused)."""
    r = _reaper
    if r is not None and r.pid == os.getpid():
        r.send(f"-{pgid}")


def watchdog_pid() -> int | None:
    """The watchdog of this process, if one runs (for tests)."""
    r = _reaper
    return r.proc.pid if r is not None and r.pid == os.getpid() else None


