"""A client of the Lean REPL (leanprover-community/repl) over a real child process.

Protocol: each request is one JSON object written with ``json.dumps`` (newlines inside strings are
escaped, so the request is a single line) followed by exactly one blank line; the REPL answers with a
pretty-printed JSON object followed by a blank line. The REPL joins the lines of a request up to the
blank line, and it dies on a stray blank line (it parses ``"\\n"`` as a request), so we never send one.

Transport: ``subprocess`` with pipes, read with ``poll`` against a deadline -- not pexpect. pexpect talks
through a pseudo-terminal whose canonical line discipline truncates lines over 4095 bytes (a Mathlib
theorem with its proof easily exceeds that), echoes input and rewrites newlines; pipes carry bytes
verbatim, need no extra thread, and a deadline-bounded ``poll`` gives per-request timeouts.

Robustness (the REPL has no timeouts of its own):

* the child runs in its own session (process group); a request that misses its deadline gets the whole
  group killed (``lake env`` wrappers included), a fresh process started, the known headers re-established,
  and `LeanTimeout` raised for that request only;
* a process that dies (also mid-answer), closes its output, or answers something that is not JSON
  (``garbage``) is restarted the same way and the request raises `LeanCrashed`; nothing ever hangs;
* ``RLIMIT_AS`` (``config.memory_limit_mb``) is set in the child before ``exec`` (``preexec_fn``), so
  every descendant inherits it; ``RLIMIT_CORE`` is 0 so a crash of a 16 GB process writes no core file;
* a process is recycled after ``config.max_requests`` requests or above ``config.max_rss_mb`` resident
  (whole process tree, psutil) -- only at *safe points* (`header_env`, `maybe_recycle`, and requests that
  carry no ``env`` / ``proofState`` ids), because a restart invalidates every id handed out before.

Generations: ``generation`` grows by one on every (re)start. ``env`` / ``proofState`` ids from an older
generation are invalid; a request either answers in the generation it was sent in, or raises. Callers that
hold proof states compare ``generation`` and rebuild (e.g. replay the tactic path) after a restart.

Header reuse: `header_env` elaborates an imports header (``import Mathlib`` + options + ``open``s) once per
generation and returns its ``env`` id; with ``config.header_pickle_dir`` the header env is pickled once and a
new process restores it with ``unpickleEnvFrom`` instead of elaborating it again.

Recording: with ``config.record_path`` every request and its answer (or error) is appended as one JSON
line (`prover.lean.record`); `prover.lean.record.ReplayProcess` answers from such a file.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import itertools
import json
import logging
import os
import re
import resource
import select
import signal
import subprocess
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from prover.lean import reaper
from prover.lean.config import LeanConfig
from prover.lean.types import (
    CommandResult,
    LeanCrashed,
    LeanException,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    TacticResult,
    parse_command_response,
    parse_tactic_response,
)

log = logging.getLogger(__name__)

_PROC_IDS = itertools.count(1)
MAX_RESTORED_HEADERS = 4  # headers re-established after a restart (the most recently established ones)
_MAX_FRESH_DEATHS = 3  # a process that dies before answering anything, this many times in a row: setup error


def request_kind(req: dict[str, Any]) -> str:
    """``"tactic"`` for requests answered with a proof-state response, else ``"command"``."""
    if "tactic" in req or "unpickleProofStateFrom" in req or ("pickleTo" in req and "proofState" in req):
        return "tactic"
    return "command"


def carries_ids(req: dict[str, Any]) -> bool:
    """Whether a request refers to an ``env`` / ``proofState`` of the process (invalid after a restart)."""
    return req.get("env") is not None or req.get("proofState") is not None


class ReplBase:
    """The request-building half of a REPL client; subclasses implement `request` (process or replay)."""

    def __init__(self, config: LeanConfig) -> None:
        self.config = config
        self.generation = 0
        # The Lean version this REPL runs (None: unknown) and where that was read (`prover.lean.project`); the
        # REPL prints no version itself.
        self.lean_version: str | None = None
        self.lean_version_source: str | None = None
        self.requests_served = 0  # in the current generation (what recycling counts)
        self.total_requests = 0
        self.proc_id = next(_PROC_IDS)  # identifies the process for the lifetime of the program
        self._header_envs: dict[str, int] = {}  # header -> env id, current generation only
        self._known_headers: list[str] = []  # headers to re-establish after a restart

    # -- to implement
    def request(self, req: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def _request_tagged(self, req: dict[str, Any], timeout: float | None, tag: dict[str, Any]) -> dict[str, Any]:
        return self.request(req, timeout)

    def maybe_recycle(self) -> bool:
        return False

    # -- protocol
    def command(
        self,
        cmd: str,
        env: int | None = None,
        *,
        all_tactics: bool = False,
        root_goals: bool = False,
        infotree: str | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        return parse_command_response(self.request(_cmd_request(cmd, env, all_tactics, root_goals, infotree), timeout))

    def tactic(self, tactic: str, proof_state: int, timeout: float | None = None) -> TacticResult:
        return parse_tactic_response(self.request({"tactic": tactic, "proofState": int(proof_state)}, timeout))

    def file(
        self,
        path: str | Path,
        *,
        all_tactics: bool = False,
        infotree: str | None = None,
        timeout: float | None = None,
        env: int | None = None,
    ) -> CommandResult:
        """File mode. A relative ``path`` is resolved by the REPL, i.e. against its working directory."""
        req: dict[str, Any] = {"path": str(path)}
        if env is not None:
            req["env"] = int(env)
        if all_tactics:
            req["allTactics"] = True
        if infotree is not None:
            req["infotree"] = infotree
        return parse_command_response(self.request(req, timeout))

    def pickle_env(self, env: int, path: str | Path) -> CommandResult:
        req = {"pickleTo": str(path), "env": int(env)}
        return parse_command_response(self.request(req, max(self.config.timeout, self.config.header_timeout)))

    def unpickle_env(self, path: str | Path) -> CommandResult:
        req = {"unpickleEnvFrom": str(path)}
        return parse_command_response(self.request(req, max(self.config.timeout, self.config.header_timeout)))

    def pickle_proof_state(self, proof_state: int, path: str | Path) -> TacticResult:
        return parse_tactic_response(self.request({"pickleTo": str(path), "proofState": int(proof_state)}))

    def unpickle_proof_state(self, path: str | Path, env: int | None = None) -> TacticResult:
        req: dict[str, Any] = {"unpickleProofStateFrom": str(path)}
        if env is not None:
            req["env"] = int(env)
        return parse_tactic_response(self.request(req))

    # -- headers
    def has_header(self, header: str) -> bool:
        """The header's env is ready in the current generation (no request needed)."""
        return header in self._header_envs

    def header_env(self, header: str) -> int:
        """The ``env`` id of ``header`` elaborated in this process (once per generation; a safe point).

        Raises `LeanInputError` if Lean reports an error in the header.
        """
        self.maybe_recycle()
        env = self._header_envs.get(header)
        if env is None:
            env = self._establish_header(header)
        return env

    def _establish_header(self, header: str) -> int:
        gen = self.generation
        pickle = self._header_pickle_path(header)
        tag = {"header": header}
        if pickle is not None and pickle.is_file():
            try:
                r = parse_command_response(
                    self._request_tagged({"unpickleEnvFrom": str(pickle)}, self.config.header_timeout, tag)
                )
                if r.ok and r.env is not None and self.generation == gen:
                    return self._remember_header(header, r.env)
                log.warning("header pickle %s did not load (%s); elaborating the header", pickle, r.error or r.errors)
            except LeanCrashed as e:
                log.warning("header pickle %s crashed the REPL (%s); removing it and elaborating the header", pickle, e)
                with contextlib.suppress(OSError):
                    pickle.unlink()
            gen = self.generation
        r = parse_command_response(self._request_tagged({"cmd": header}, self.config.header_timeout, tag))
        if not r.ok or r.env is None:
            what = r.error or "\n".join(m.format("<header>") for m in r.errors)
            raise LeanInputError(f"the header does not elaborate:\n{what}\n--- header ---\n{header}")
        env = self._remember_header(header, r.env)
        if pickle is not None and not pickle.exists() and self.generation == gen:
            self._write_header_pickle(env, pickle)
        return env

    def _remember_header(self, header: str, env: int) -> int:
        self._header_envs[header] = env
        if header in self._known_headers:
            self._known_headers.remove(header)
        self._known_headers.append(header)  # most recent last; a restart restores the last few
        del self._known_headers[:-MAX_RESTORED_HEADERS]
        return env

    def _header_pickle_path(self, header: str) -> Path | None:
        return None

    def _write_header_pickle(self, env: int, path: Path) -> None:
        pass


def _cmd_request(
    cmd: str, env: int | None, all_tactics: bool, root_goals: bool, infotree: str | None
) -> dict[str, Any]:
    req: dict[str, Any] = {"cmd": cmd}
    if env is not None:
        req["env"] = int(env)
    if all_tactics:
        req["allTactics"] = True
    if root_goals:
        req["rootGoals"] = True
    if infotree is not None:
        req["infotree"] = infotree
    return req


# ---------------------------------------------------------------------------------------------------
# The process


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


class _Garbage(Exception):
    pass


def _limits(memory_limit_mb: int | None):  # runs in the child between fork and exec: keep it trivial
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_limit_mb is not None:
            limit = int(memory_limit_mb) << 20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill_and_forget(pid: int) -> None:
    """A `_Child` dropped without `kill`: kill its group and take it off the watchdog's list."""
    _kill_group(pid)
    reaper.unregister(pid)


class _Child:
    """One spawned REPL process: pipes, output buffer, stderr tail."""

    def __init__(self, cmd: list[str], cwd: Path | None, memory_limit_mb: int | None) -> None:
        try:
            self.popen = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_limits(memory_limit_mb),
                bufsize=0,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise LeanSetupError(f"cannot start the REPL {cmd!r} in {cwd}: {e}") from e
        self.pid = self.popen.pid
        reaper.register(self.pid)  # its session dies with this process, however this process dies
        self.stdin_fd = self.popen.stdin.fileno()
        self.stdout_fd = self.popen.stdout.fileno()
        os.set_blocking(self.stdin_fd, False)
        os.set_blocking(self.stdout_fd, False)
        self.poll_in = select.poll()
        self.poll_in.register(self.stdout_fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.poll_out = select.poll()
        self.poll_out.register(self.stdin_fd, select.POLLOUT | select.POLLERR)
        self.buf = bytearray()
        self.scanned = 0
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._finalizer = weakref.finalize(self, _kill_and_forget, self.pid)
        self.stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(self.popen.stderr,), name=f"repl-stderr-{self.pid}", daemon=True
        )
        self.stderr_thread.start()

    def _drain_stderr(self, stream) -> None:
        try:
            for raw in iter(stream.readline, b""):
                self.stderr_tail.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
        except (OSError, ValueError):
            pass

    def alive(self) -> bool:
        return self.popen.poll() is None

    def write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.stdin_fd, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError) as e:
                raise _Died("its input pipe is closed") from e
            except OSError as e:
                if e.errno == errno.EPIPE:
                    raise _Died("its input pipe is closed") from e
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            self.poll_out.poll(max(1, int(remaining * 1000)))

    def discard_pending(self) -> None:
        """Output nobody asked for (between requests): log and drop it, so answers stay in step."""
        try:
            while True:
                chunk = os.read(self.stdout_fd, 1 << 16)
                if not chunk:
                    break
                self.buf += chunk
        except BlockingIOError:
            pass
        except OSError:
            return
        if self.buf.strip():
            log.warning("REPL %d: discarding unexpected output: %r", self.pid, bytes(self.buf[:200]))
        self.buf.clear()
        self.scanned = 0

    def read_answer(self, deadline: float) -> dict[str, Any]:
        while True:
            obj = self._take_block()
            if obj is not None:
                return obj
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if not self.poll_in.poll(max(1, int(remaining * 1000 + 0.999))):
                continue
            try:
                chunk = os.read(self.stdout_fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError as e:
                raise _Died(f"reading its output failed: {e}") from e
            if not chunk:
                raise _Died(
                    "it closed its output"
                    + (f" mid-answer after {bytes(self.buf[:120])!r}" if self.buf.strip() else "")
                )
            self.buf += chunk

    def _take_block(self) -> dict[str, Any] | None:
        buf = self.buf
        # skip blank lines before an answer
        start = 0
        while start < len(buf) and buf[start] in b" \t\r\n":
            start += 1
        if start:
            del buf[:start]
            self.scanned = max(0, self.scanned - start)
        i = buf.find(b"\n\n", max(0, self.scanned - 1))
        if i < 0:
            self.scanned = len(buf)
            return None
        block = bytes(buf[:i])
        del buf[: i + 2]
        self.scanned = 0
        return _parse_block(block)

    def kill(self) -> None:
        _kill_group(self.pid)
        try:
            self.popen.wait(timeout=5)
            reaper.unregister(self.pid)
        except subprocess.TimeoutExpired:
            log.error("REPL process %d did not die after SIGKILL", self.pid)
        for f in (self.popen.stdin, self.popen.stdout):
            with contextlib.suppress(OSError):
                f.close()
        self.stderr_thread.join(timeout=1)
        with contextlib.suppress(OSError):
            self.popen.stderr.close()
        self._finalizer.detach()

    def exit_description(self) -> str:
        try:
            code = self.popen.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stderr_text(self, n: int = 12) -> str:
        self.stderr_thread.join(timeout=0.2)
        return "\n".join(list(self.stderr_tail)[-n:])


def _parse_block(block: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(block)
    except ValueError:
        obj = None
        # Tolerate stray lines printed before the JSON (e.g. by native code): parse from the first '{' line.
        lines = block.split(b"\n")
        for k in range(1, len(lines)):
            if lines[k].startswith(b"{"):
                try:
                    obj = json.loads(b"\n".join(lines[k:]))
                except ValueError:
                    break
                log.warning("REPL printed stray output before its answer: %r", b"\n".join(lines[:k])[:200])
                break
        if obj is None:
            raise _Garbage(block[:200].decode("utf-8", errors="replace")) from None
    if not isinstance(obj, dict):
        raise _Garbage(block[:200].decode("utf-8", errors="replace"))
    return obj


class ReplProcess(ReplBase):
    """One Lean REPL process (restarted as needed). Thread-safe: requests are serialized."""

    def __init__(self, config: LeanConfig, *, command: list[str] | None = None, cwd: Path | None = None) -> None:
        super().__init__(config)
        self._command = list(command) if command is not None else None
        self._cwd = Path(cwd) if cwd is not None else None
        self._child: _Child | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._restoring = False
        self._fresh_deaths = 0
        self._recorder = None
        if config.record_path is not None:
            from prover.lean.record import get_recorder

            self._recorder = get_recorder(config.record_path)

    # -- lifecycle
    def _resolve(self) -> tuple[list[str], Path | None]:
        if self._command is None:
            try:
                from prover.lean.project import resolve_repl_command
            except ImportError as e:
                raise LeanSetupError(f"no REPL command given and prover.lean.project is unavailable: {e}") from e
            cmd, cwd = resolve_repl_command(self.config)
            self._command, self._cwd = list(cmd), (Path(cwd) if cwd is not None else None)
        return self._command, self._cwd

    def start(self) -> None:
        """Start the process if it is not running (idempotent)."""
        with self._lock:
            if self._closed:
                raise LeanSetupError("this REPL process was closed")
            if self._child is None:
                self._spawn()

    def _spawn(self) -> None:
        cmd, cwd = self._resolve()
        if self.lean_version_source is None:
            from prover.lean.project import repl_lean_version

            known = repl_lean_version(cmd, cwd)
            self.lean_version, self.lean_version_source = known.version, known.source
        self._child = _Child(cmd, cwd, self.config.memory_limit_mb)
        self.generation += 1
        self.requests_served = 0
        self._header_envs.clear()
        log.debug("REPL %d started (pid %d, generation %d)", self.proc_id, self._child.pid, self.generation)

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None

    def restart(self) -> None:
        """Kill the process group, start a fresh process, re-establish the known headers."""
        with self._lock:
            if self._closed:
                raise LeanSetupError("this REPL process was closed")
            self._respawn()

    def _respawn(self) -> None:
        self._kill()
        if self._closed:  # shutting down (Ctrl-C, the end of a batch): never start Lean again
            raise LeanSetupError("this REPL process was closed")
        self._spawn()
        if not self._restoring:
            self._restore_headers()

    def _restore_headers(self) -> None:
        self._restoring = True
        try:
            for header in list(self._known_headers):
                try:
                    self._establish_header(header)
                except LeanException as e:
                    log.warning("REPL %d: could not re-establish a header after restart: %s", self.proc_id, e)
                    break
        finally:
            self._restoring = False

    def close(self) -> None:
        """Kill the process group for good. A request in flight on another thread fails with `LeanSetupError`
        (the process is gone and is not restarted)."""
        self._closed = True
        child = self._child
        if child is not None:
            _kill_group(child.pid)  # without the lock, so that a request in flight ends now
        with self._lock:
            self._kill()

    def __enter__(self) -> ReplProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def rss_mb(self) -> float:
        """Resident memory of the process and its descendants, in MiB (0 if not running)."""
        child = self._child
        if child is None:
            return 0.0
        import psutil

        try:
            p = psutil.Process(child.pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for q in procs:
            with contextlib.suppress(psutil.Error):
                total += q.memory_info().rss
        return total / (1 << 20)

    @property
    def recycle_due(self) -> bool:
        if self._child is None:
            return False
        if self.config.max_requests and self.requests_served >= self.config.max_requests:
            return True
        return self.config.max_rss_mb is not None and self.rss_mb() > self.config.max_rss_mb

    def maybe_recycle(self) -> bool:
        """Restart the process if it served ``max_requests`` or grew past ``max_rss_mb`` (invalidates ids)."""
        with self._lock:
            if self._closed or self._restoring or not self.recycle_due:
                return False
            log.info(
                "REPL %d: recycling after %d requests (%.0f MiB)", self.proc_id, self.requests_served, self.rss_mb()
            )
            self._respawn()
            return True

    # -- requests
    def request(self, req: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one raw request, return the raw answer. Raises `LeanTimeout` / `LeanCrashed` (after restarting)."""
        return self._request_tagged(req, timeout, None)

    def _request_tagged(self, req: dict[str, Any], timeout: float | None, tag: dict[str, Any] | None) -> dict[str, Any]:
        try:
            payload = (json.dumps(req, ensure_ascii=False) + "\n\n").encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as e:
            raise LeanInputError(f"request cannot be encoded as JSON/UTF-8: {e}") from e
        limit = self.config.timeout if timeout is None else float(timeout)
        with self._lock:
            if self._closed:
                raise LeanSetupError("this REPL process was closed")
            if self._child is None:
                self._spawn()
                if not self._restoring:
                    self._restore_headers()
            elif not self._child.alive():
                why = f"the REPL process had died ({self._child.exit_description()}; {self._child.stderr_text(3)!r})"
                self._respawn()
                if carries_ids(req):
                    err = LeanCrashed(
                        f"{why} before this request; restarted (generation {self.generation}), "
                        "so its env/proofState ids are gone"
                    )
                    self._record(req, tag, error=err, seconds=0.0)
                    raise err
            elif not carries_ids(req) and not self._restoring:
                self.maybe_recycle()
            child = self._child
            assert child is not None
            child.discard_pending()
            t0 = time.monotonic()
            try:
                child.write(payload, t0 + limit)
                obj = child.read_answer(t0 + limit)
            except _Timeout:
                err = LeanTimeout(
                    f"no answer within {limit:g}s to {_describe(req)}; killed the REPL process group and restarted "
                    f"it (generation {self.generation + 1})"
                )
                self._fail(req, tag, err, time.monotonic() - t0)
            except _Died as e:
                err = self._crash_error(child, f"the REPL process died ({e})", req)
                self._fail(req, tag, err, time.monotonic() - t0, fresh_death=self.requests_served == 0)
            except _Garbage as e:
                err = LeanCrashed(
                    f"the REPL answered something that is not JSON (garbage) to {_describe(req)}: {str(e)[:200]!r}; "
                    f"restarted it (generation {self.generation + 1})"
                )
                self._fail(req, tag, err, time.monotonic() - t0)
            seconds = time.monotonic() - t0
            self.requests_served += 1
            self.total_requests += 1
            self._fresh_deaths = 0
            self._record(req, tag, response=obj, seconds=seconds)
            return obj

    def _crash_error(self, child: _Child, what: str, req: dict[str, Any]) -> LeanCrashed:
        how = child.exit_description()
        err = child.stderr_text()
        hint = ""
        if self.config.memory_limit_mb is not None and re.search(
            r"out of memory|MemoryError|bad_alloc|Cannot allocate", err, re.IGNORECASE
        ):
            hint = f" (memory cap RLIMIT_AS={self.config.memory_limit_mb} MiB reached)"
        return LeanCrashed(
            f"{what}{hint} while answering {_describe(req)}; {how}; restarted it (generation {self.generation + 1})"
            + (f"\nstderr:\n{err}" if err else "")
        )

    def _fail(self, req, tag, err: LeanException, seconds: float, fresh_death: bool = False):
        self._record(req, tag, error=err, seconds=seconds)
        self.total_requests += 1
        if self._closed:  # shutting down: not a crash of this request, and nothing is restarted
            self._kill()
            raise LeanSetupError(f"the REPL process was closed during {_describe(req)}") from err
        if fresh_death:
            self._fresh_deaths += 1
            if self._fresh_deaths >= _MAX_FRESH_DEATHS:
                self._kill()
                raise LeanSetupError(
                    f"the REPL died {self._fresh_deaths} times in a row before answering anything "
                    f"({self._command!r} in {self._cwd}): {err}"
                ) from err
        else:
            self._fresh_deaths = 0
        self._respawn()
        raise err

    def _record(self, req, tag, *, response=None, error=None, seconds: float) -> None:
        if self._recorder is None:
            return
        self._recorder.write(
            req,
            response=response,
            error=error,
            seconds=seconds,
            generation=self.generation,
            proc=self.proc_id,
            lean_version=self.lean_version,
            tag=tag,
        )

    # -- header pickles
    def _header_pickle_path(self, header: str) -> Path | None:
        d = self.config.header_pickle_dir
        if d is None:
            return None
        cmd, cwd = self._resolve()
        key = hashlib.sha256(json.dumps([header, cmd, str(cwd)]).encode()).hexdigest()[:24]
        return Path(d).absolute() / f"header-{key}.olean"

    def _write_header_pickle(self, env: int, path: Path) -> None:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{self.proc_id}.tmp.olean")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            r = self.pickle_env(env, tmp)
            if r.ok and tmp.is_file():
                os.replace(tmp, path)
            else:
                log.warning("could not pickle the header env to %s: %s", path, r.error or r.errors)
        except (OSError, LeanException) as e:
            log.warning("could not pickle the header env to %s: %s", path, e)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _describe(req: dict[str, Any]) -> str:
    if "tactic" in req:
        return f"tactic {req['tactic'][:60]!r} on proofState {req.get('proofState')}"
    if "cmd" in req:
        first = req["cmd"].strip().split("\n", 1)[0]
        return f"command {first[:60]!r}" + (f" in env {req['env']}" if req.get("env") is not None else "")
    return json.dumps(req, ensure_ascii=False)[:100]
