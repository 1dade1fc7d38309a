"""Record / replay of REPL sessions: offline re-runs and reproducible bug reports.

Recording (``LeanConfig.record_path``): every request a `ReplProcess` sends is appended to a JSONL file as
one line ``{"request": {...}, "response": {...}, "seconds": 0.01, "generation": 1, "proc": 1}`` -- or
``"error": {"type": "LeanTimeout", "message": "..."}`` instead of ``"response"`` -- plus ``"header"`` (the
header text) on the requests that establish a header env, and ``"lean_version"`` when known. Each line is
written with a single ``write`` on an ``O_APPEND`` descriptor, so several processes, threads and workers can
share one file.

Replay (`ReplayProcess`, or ``LeanConfig.replay_path`` for a `ReplPool`): answers each request with the
recorded answer of the same request (same JSON content), the k-th time it is asked with the k-th recorded
answer -- the last one again once they run out. Recorded errors are raised again (a restart is mimicked by
bumping ``generation``). A request that was never recorded raises `ReplayMismatch` (a `LeanSetupError`:
the recording does not cover this run). Deterministic: no process, no clock.

Transcripts: `read_transcript` reads the upstream REPL test format (``X.in`` requests and
``X.expected.out`` answers, blank-line separated), e.g. ``../shared/fixtures/repl/test``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prover.lean.config import LeanConfig
from prover.lean.repl import ReplBase
from prover.lean.types import LeanCrashed, LeanException, LeanInputError, LeanSetupError, LeanTimeout

_ERRORS: dict[str, type[LeanException]] = {
    "LeanTimeout": LeanTimeout,
    "LeanCrashed": LeanCrashed,
    "LeanSetupError": LeanSetupError,
    "LeanInputError": LeanInputError,
}


class ReplayMismatch(LeanSetupError):
    """A replayed run sent a request that the recording does not contain."""


# ---------------------------------------------------------------------------------------------------
# Recording


class Recorder:
    """Appends one JSON line per request to ``path`` (thread- and process-safe appends)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(
        self,
        request: dict[str, Any],
        *,
        response: dict[str, Any] | None = None,
        error: BaseException | None = None,
        seconds: float = 0.0,
        generation: int | None = None,
        proc: int | None = None,
        lean_version: str | None = None,
        tag: dict[str, Any] | None = None,
    ) -> None:
        rec: dict[str, Any] = {"request": request}
        if error is not None:
            rec["error"] = {"type": type(error).__name__, "message": str(error)}
        else:
            rec["response"] = response
        rec["seconds"] = round(seconds, 6)
        if generation is not None:
            rec["generation"] = generation
        if proc is not None:
            rec["proc"] = proc
        if lean_version:
            rec["lean_version"] = lean_version
        if tag:
            rec.update(tag)
        data = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


_RECORDERS: dict[str, Recorder] = {}
_RECORDERS_LOCK = threading.Lock()


def get_recorder(path: str | Path) -> Recorder:
    """The process-wide recorder of ``path`` (one descriptor per file, shared by all REPL processes)."""
    key = str(Path(path).absolute())
    with _RECORDERS_LOCK:
        rec = _RECORDERS.get(key)
        if rec is None or rec._fd < 0:
            rec = _RECORDERS[key] = Recorder(key)
        return rec


# ---------------------------------------------------------------------------------------------------
# Replay


def request_key(req: dict[str, Any]) -> str:
    return json.dumps(req, sort_keys=True, ensure_ascii=False)


def read_records(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """``(line number, record, its request)`` of each non-blank line of a recording file (the REPL's and the
    models' share the format); a line that is not a record raises ``error``."""
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                req = rec["request"]
            except (ValueError, KeyError, TypeError) as e:
                raise error(f"{path}:{n}: not a recording line ({e})") from e
            yield n, rec, req


class Answers:
    """Recorded answers by key: the k-th time a key is asked, its k-th answer (the last one again once they
    run out). Thread-safe."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, key: str, rec: dict[str, Any]) -> None:
        self._by_key.setdefault(key, []).append(rec)

    def take(self, key: str) -> dict[str, Any] | None:
        recs = self._by_key.get(key)
        if not recs:
            return None
        with self._lock:
            i = self._next.get(key, 0)
            self._next[key] = i + 1
        return recs[min(i, len(recs) - 1)]


class Recording:
    """A loaded recording, indexed by request content; shared by the `ReplayProcess` objects of a pool."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LeanSetupError(f"replay file not found: {self.path}")
        self._requests = Answers()
        self._headers = Answers()
        self.lean_version: str | None = None
        for _, rec, req in read_records(self.path, LeanSetupError):
            if "header" in rec:
                self._headers.add(rec["header"], rec)
            else:
                self._requests.add(request_key(req), rec)
            self.lean_version = rec.get("lean_version") or self.lean_version

    def answer(self, req: dict[str, Any]) -> dict[str, Any] | None:
        return self._requests.take(request_key(req))

    def header(self, header: str) -> dict[str, Any] | None:
        return self._headers.take(header)


class ReplayProcess(ReplBase):
    """A `ReplProcess` stand-in answering from a recording (same methods, no process)."""

    def __init__(
        self, path: str | Path | Recording, config: LeanConfig | None = None, *, recording: Recording | None = None
    ) -> None:
        super().__init__(config or LeanConfig())
        self.recording = recording or (path if isinstance(path, Recording) else Recording(path))
        self.lean_version = self.recording.lean_version
        self.lean_version_source = f"recorded in {self.recording.path}"
        self._closed = False
        self._started = False

    def start(self) -> None:
        if self._closed:
            raise LeanSetupError("this replay process was closed")
        if not self._started:
            self._started = True
            self.generation += 1

    def close(self) -> None:
        self._closed = True

    def restart(self) -> None:
        self._header_envs.clear()
        self.generation += 1
        self.requests_served = 0

    def __enter__(self) -> ReplayProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alive(self) -> bool:
        return self._started and not self._closed

    def rss_mb(self) -> float:
        return 0.0

    def request(self, req: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self.start()
        rec = self.recording.answer(req)
        if rec is None:
            raise ReplayMismatch(
                f"request not in the recording {self.recording.path}: {json.dumps(req, ensure_ascii=False)[:300]}"
            )
        return self._replay(rec)

    def _replay(self, rec: dict[str, Any]) -> dict[str, Any]:
        self.total_requests += 1
        if "error" in rec:
            err = rec["error"]
            cls = _ERRORS.get(err.get("type"), LeanCrashed)
            if cls in (LeanTimeout, LeanCrashed):
                self.restart()
            raise cls(f"[replayed] {err.get('message', '')}")
        self.requests_served += 1
        return rec["response"]

    def _establish_header(self, header: str) -> int:
        self.start()
        rec = self.recording.header(header)
        if rec is None:  # recorded without a header tag: match the plain command
            return super()._establish_header(header)
        resp = self._replay(rec)
        env = resp.get("env")
        if env is None or any(m.get("severity") == "error" for m in resp.get("messages", [])):
            raise LeanInputError(f"[replayed] the header does not elaborate: {resp}\n--- header ---\n{header}")
        return self._remember_header(header, int(env))


# ---------------------------------------------------------------------------------------------------
# Upstream transcripts


def split_requests(text: str) -> list[str]:
    """Requests of an ``.in`` transcript as the REPL reads them: lines right-trimmed and joined with nothing
    up to a blank line; queries starting with ``#`` or ``--`` are skipped (the REPL ignores them)."""
    out, acc = [], ""
    for line in text.splitlines():
        if not line.strip():
            if acc:
                out.append(acc)
            acc = ""
        else:
            acc += line.rstrip()
    if acc:
        out.append(acc)
    return [q for q in out if not (q.startswith("#") or q.startswith("--"))]


def read_transcript(in_path: str | Path) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(request, recorded answer) pairs of ``X.in`` and ``X.expected.out`` (answer None if there is none)."""
    in_path = Path(in_path)
    reqs = [json.loads(q, strict=False) for q in split_requests(in_path.read_text(encoding="utf-8"))]
    out_path = in_path.with_name(in_path.name[: -len(".in")] + ".expected.out")
    answers: list[dict[str, Any]] = []
    if out_path.is_file():
        blocks = [b for b in re.split(r"\n\s*\n", out_path.read_text(encoding="utf-8")) if b.strip()]
        answers = [json.loads(b) for b in blocks]
    return [(r, answers[i] if i < len(answers) else None) for i, r in enumerate(reqs)]


def iter_transcripts(root: str | Path) -> Iterator[Path]:
    """Every ``*.in`` under ``root`` that has an ``.expected.out``."""
    for p in sorted(Path(root).rglob("*.in")):
        if p.with_name(p.name[: -len(".in")] + ".expected.out").is_file():
            yield p
