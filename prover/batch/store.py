"""The results store of a batch run: one SQLite file (WAL) in the run directory.

One row per (theorem, attempt), written in its own transaction the moment the attempt finishes; with
``synchronous=FULL`` a committed row survives a killed process (``kill -9``) and a power cut. Nothing is
written for an attempt that is still running, so a killed run loses only the attempts in flight, and a
resumed run redoes exactly those (plus, by default, the ones that ended in an infrastructure ``error``).

A finished row is never overwritten by another outcome, except an ``error`` row by a retry. A ``proved``
row without proof text is refused (stored as ``error``): every proof in the store has passed the soundness
gate, and the row keeps the Lean version the gate reported; the session row keeps the Lean toolchain and
Mathlib revision of the project.

Tables: ``meta`` (key/value: schema, benchmark, config), ``theorems`` (the selection, in order),
``sessions`` (one per invocation: host, pid, start, last write, versions), ``attempts``.

**Schema versions.** ``meta.schema_version`` says which `MIGRATIONS` a store has had. Opening a store for
writing applies the missing ones, each in its own transaction with the version bump (a store is never left
half-migrated); opening one read-only (``prover report``) migrates an in-memory copy, so older run
directories, read-only ones included, stay readable. A store of a newer schema is refused with one line.
To add a column: append a `Migration` (next version number) and, for ``attempts``, a field to
`AttemptRow` with the same name.

**One writer per run directory.** `RunLock` (an ``flock`` on ``RUN_DIR/lock``, which records who holds it)
keeps a second ``prover batch`` out of a directory a running one writes to.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prover.attempt import STATEMENT_REJECTED
from prover.errors import UserError
from prover.runlock import LOCK_NAME, RunLock  # noqa: F401 - part of the store's API

DB_NAME = "results.sqlite"
FINAL = ("proved", "failed", "timeout")
STATUSES = ("proved", "failed", "timeout", "error")

# Schema version 1: the tables as first released. Never edit this; add a `Migration` instead.
_BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS theorems (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, split TEXT, subject TEXT, source TEXT, known_issue TEXT,
    header TEXT, statement TEXT, position INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, last_write REAL, host TEXT, pid INTEGER,
    argv TEXT, backend TEXT, workers INTEGER, lean_toolchain TEXT, mathlib_rev TEXT, info TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    theorem TEXT NOT NULL, attempt INTEGER NOT NULL, seed INTEGER, status TEXT NOT NULL, proof TEXT,
    error TEXT, time REAL, expansions INTEGER, lean_calls INTEGER, lean_version TEXT, worker TEXT,
    session INTEGER, started REAL, finished REAL, tries INTEGER DEFAULT 1,
    PRIMARY KEY (theorem, attempt)
);
"""


@dataclass(frozen=True)
class Migration:
    """What turns a store of schema ``version - 1`` into ``version``: SQL statements (``ALTER TABLE ... ADD
    COLUMN``, ``UPDATE`` to fill it, ...), run in one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "sessions.lean_version / lean_version_source: the Lean version the REPL ran and where it was read",
        (
            "ALTER TABLE sessions ADD COLUMN lean_version TEXT",
            "ALTER TABLE sessions ADD COLUMN lean_version_source TEXT",
        ),
    ),
    Migration(
        3,
        "attempts.verified_by: which mode checked a proof ('repl': the REPL gate; 'strict': then the checker)",
        ("ALTER TABLE attempts ADD COLUMN verified_by TEXT",),
    ),
)
MIGRATIONS += (
    Migration(
        4,
        "attempts.mode / stage / samples / tokens / stats: the proving mode, the repair stage that closed the "
        "proof, whole-proof samples and tokens spent, per-mode details (JSON)",
        (
            "ALTER TABLE attempts ADD COLUMN mode TEXT DEFAULT 'step'",
            "ALTER TABLE attempts ADD COLUMN stage TEXT",
            "ALTER TABLE attempts ADD COLUMN samples INTEGER DEFAULT 0",
            "ALTER TABLE attempts ADD COLUMN tokens INTEGER DEFAULT 0",
            "ALTER TABLE attempts ADD COLUMN stats TEXT",
        ),
    ),
)
SCHEMA_VERSION = 1 + len(MIGRATIONS)
assert [m.version for m in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1)), "migrations must be numbered 2, 3, ..."


def _dir_writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


class StoreWriteError(Exception):
    """A result could not be written (disk full, I/O error, read-only file); the row is kept by the caller."""


def _is_write_failure(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return isinstance(e, sqlite3.OperationalError | sqlite3.DatabaseError) and any(
        w in text for w in ("full", "disk i/o", "readonly", "read-only", "locked", "unable to open", "no space")
    )


@dataclass
class AttemptRow:
    theorem: str  # the theorem's key
    attempt: int
    status: str
    seed: int = 0
    proof: str | None = None
    error: str | None = None
    time: float = 0.0
    expansions: int = 0
    lean_calls: int = 0
    lean_version: str | None = None
    worker: str = ""
    session: int | None = None
    started: float | None = None
    finished: float | None = None
    tries: int = 1
    verified_by: str | None = None  # "repl" | "strict" for a proved row
    mode: str = "step"
    stage: str | None = None  # whole-proof modes: the stage that closed the proof (repair.loop.STAGES)
    samples: int = 0
    tokens: int = 0
    stats: str | None = None  # JSON: the mode's details (candidates, rounds, goals left, ...)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ResultStore:
    """SQLite results store; use from one thread (the batch driver). Readers may open it concurrently.

    ``readonly`` never writes to the run directory: an older schema is migrated in memory, and a store in a
    directory this user cannot write (where SQLite cannot create its ``-shm`` file) is read from a copy.
    """

    def __init__(self, path: Path | str, *, synchronous: str = "FULL", readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.is_file():
                raise UserError(f"{self.path}: no results store here (is this a run directory of `prover batch`?)")
            self.conn = self._open_readonly()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
                version = self._version()
                if version is None:
                    self.conn.executescript(_BASE_SCHEMA)
                    self._write("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1')")
                    version = self._version()
                self._check_version(version)
                for m in MIGRATIONS:
                    if m.version > (version or 1):
                        self._apply(self.conn, m)
            except sqlite3.DatabaseError as e:
                self.close()
                raise UserError(f"{self.path}: cannot open the results store ({e})") from e
        self.conn.row_factory = sqlite3.Row

    def _version(self, conn: sqlite3.Connection | None = None) -> int | None:
        conn = conn or self.conn
        try:
            r = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None
            raise
        if r is None:
            return None
        try:
            return int(json.loads(r[0]))
        except (TypeError, ValueError) as e:
            raise UserError(f"{self.path}: bad schema_version {r[0]!r} in the results store") from e

    def _check_version(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise UserError(
                f"{self.path}: results store of schema {version}, written by a newer prover (this one reads up "
                f"to schema {SCHEMA_VERSION}); upgrade lean-prover to use this run directory"
            )

    def _apply(self, conn: sqlite3.Connection, m: Migration) -> None:
        """Apply ``m`` in one transaction, unless another process already did (checked inside it)."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if (self._version(conn) or 1) < m.version:
                    for sql in m.statements:
                        conn.execute(sql)
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (json.dumps(m.version),)
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            if _is_write_failure(e):
                raise StoreWriteError(f"{self.path}: cannot upgrade the store to schema {m.version}: {e}") from e
            raise

    def _open_readonly(self) -> sqlite3.Connection:
        """A connection that never writes the run directory, holding the current schema."""
        try:
            conn = None
            if _dir_writable(self.path.parent):
                # A plain connection: "mode=ro" cannot open a WAL file whose -shm is missing.
                conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
                try:
                    version = self._version(conn)
                except sqlite3.OperationalError as e:  # e.g. a read-only mount that access() did not tell
                    if not _is_write_failure(e):
                        raise
                    conn.close()
                    conn = None
            if conn is None:
                conn = self._copy_of_readonly_dir()
                version = self._version(conn)
            if version is None:
                conn.close()
                raise UserError(f"{self.path}: cannot read the results store (no schema version)")
            self._check_version(version)
            if version < SCHEMA_VERSION:  # an older run: read it through an upgraded copy in memory
                mem = sqlite3.connect(":memory:", isolation_level=None)
                conn.backup(mem)
                conn.close()
                conn = mem
                for m in MIGRATIONS:
                    if m.version > version:
                        self._apply(conn, m)
            return conn
        except sqlite3.DatabaseError as e:
            raise UserError(f"{self.path}: cannot read the results store ({e})") from e

    def _copy_of_readonly_dir(self) -> sqlite3.Connection:
        """SQLite needs to create ``-shm`` beside a WAL store to read it: copy the store (and its WAL, whose
        committed rows are not yet in the main file) to a temporary directory and read the copy in memory."""
        with tempfile.TemporaryDirectory(prefix="prover-store-") as tmp:
            for suffix in ("", "-wal"):
                src = Path(f"{self.path}{suffix}")
                if src.is_file():
                    shutil.copyfile(src, Path(tmp) / f"{DB_NAME}{suffix}")
            disk = sqlite3.connect(str(Path(tmp) / DB_NAME), timeout=30.0, isolation_level=None)
            mem = sqlite3.connect(":memory:", isolation_level=None)
            disk.backup(mem)
            disk.close()
        return mem

    @classmethod
    def in_run_dir(cls, run_dir: Path | str, **kw: Any) -> ResultStore:
        return cls(Path(run_dir) / DB_NAME, **kw)

    # -- writes -----------------------------------------------------------------------------------

    def _write(self, sql: str, params: Iterable[Any] | None = None, many: bool = False, *more: tuple) -> None:
        """One transaction: ``sql`` with ``params`` (``many``: executemany), then each ``(sql, params)`` of
        ``more``."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if many:
                    self.conn.executemany(sql, params or [])
                else:
                    self.conn.execute(sql, tuple(params or ()))
                for q, p in more:
                    self.conn.execute(q, tuple(p))
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            if _is_write_failure(e):
                raise StoreWriteError(f"{self.path}: {e}") from e
            raise

    def set_meta(self, key: str, value: Any) -> None:
        self._write(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def add_theorems(self, rows: Iterable[dict[str, Any]]) -> None:
        """Upsert the selection (``key, name, split, subject, source, known_issue, header, statement``)."""
        start = self.conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM theorems").fetchone()[0]
        rows = list(rows)
        params = [
            (
                r["key"],
                r["name"],
                r.get("split"),
                r.get("subject"),
                r.get("source"),
                r.get("known_issue"),
                r.get("header"),
                r.get("statement"),
                start + i,
            )
            for i, r in enumerate(rows)
        ]
        self._write(
            "INSERT INTO theorems(key, name, split, subject, source, known_issue, header, statement, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET name = excluded.name, "
            "split = excluded.split, subject = excluded.subject, source = excluded.source, "
            "known_issue = excluded.known_issue, header = excluded.header, statement = excluded.statement",
            params,
            many=True,
        )

    def start_session(
        self, *, argv: list[str] | None = None, backend: str = "local", workers: int = 1, **info: Any
    ) -> int:
        now = time.time()
        versions = [info.pop(k, None) for k in ("lean_toolchain", "mathlib_rev", "lean_version", "lean_version_source")]
        self._write(
            "INSERT INTO sessions(started, last_write, host, pid, argv, backend, workers, lean_toolchain, mathlib_rev,"
            " lean_version, lean_version_source, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                now,
                socket.gethostname(),
                os.getpid(),
                json.dumps(argv or []),
                backend,
                workers,
                *versions,
                json.dumps(info, default=str),
            ),
        )
        return int(self.conn.execute("SELECT MAX(id) FROM sessions").fetchone()[0])

    def record(self, row: AttemptRow) -> AttemptRow:
        """Write one finished attempt (its own transaction). Returns the row as stored.

        Raises `StoreWriteError` when the disk is full / unwritable: the caller keeps the row and retries."""
        if row.status not in STATUSES:
            raise ValueError(f"unknown status {row.status!r}")
        if row.status == "proved" and not (row.proof and row.proof.strip()):
            row.status, row.error = "error", "reported proved without a gated proof text; not counted"
        if row.finished is None:
            row.finished = time.time()
        names = [f.name for f in fields(AttemptRow)]
        cols = ", ".join(names)
        marks = ", ".join("?" for _ in names)
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in ("theorem", "attempt"))
        # Never replace a final result; an "error" row may be replaced by a retry's outcome.
        self._write(
            f"INSERT INTO attempts({cols}) VALUES ({marks}) ON CONFLICT(theorem, attempt) DO UPDATE SET {updates} "
            "WHERE attempts.status = 'error'",
            [getattr(row, n) for n in names],
            False,
            ("UPDATE sessions SET last_write = ? WHERE id = ?", (row.finished, row.session)),
        )
        return row

    # -- reads ------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        r = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def done(self, *, retry_errors: bool = True, max_tries: int | None = None) -> set[tuple[str, int]]:
        """(theorem, attempt) pairs that need no more work: final results, statements Lean rejected (they
        fail the same way every time), and with ``retry_errors`` off every error, else errors that have been
        tried ``max_tries`` times (over all sessions)."""
        sql = "SELECT theorem, attempt FROM attempts"
        if not retry_errors:
            return {(r[0], int(r[1])) for r in self.conn.execute(sql)}
        sql += " WHERE status != 'error' OR error LIKE ? OR COALESCE(tries, 1) >= ?"
        limit = max_tries if max_tries is not None else 1 << 62
        return {(r[0], int(r[1])) for r in self.conn.execute(sql, (STATEMENT_REJECTED + "%", limit))}

    def tries(self) -> dict[tuple[str, int], int]:
        """How often each attempt that ended in an error has been tried so far (a redo continues the count)."""
        sql = "SELECT theorem, attempt, COALESCE(tries, 1) FROM attempts WHERE status = 'error'"
        return {(r[0], int(r[1])): int(r[2]) for r in self.conn.execute(sql)}

    def theorems(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM theorems ORDER BY position")]

    def attempts(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM attempts ORDER BY finished")]

    def sessions(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM sessions ORDER BY id")]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM attempts WHERE status = ?", (status,)).fetchone()[0])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------
# The run directory: one writer at a time; rows that could not be written


UNSAVED_PREFIX = "unsaved-"


def unsaved_dirs(run_dir: Path | str, run_id: str | None) -> list[Path]:
    """Where finished rows that the store could not take (a full disk) are written, best first: the run
    directory, else a directory named after the run's id in the user's cache and in the temporary
    directory (another file system, with luck). A resumed run imports them from all of these."""
    dirs = [Path(run_dir)]
    if run_id:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        dirs += [cache / "prover" / "unsaved" / run_id, Path(tempfile.gettempdir()) / "prover-unsaved" / run_id]
    return dirs


def dump_unsaved(rows: list[AttemptRow], run_dir: Path | str, run_id: str | None) -> Path | None:
    """Write ``rows`` as JSON lines to the first of `unsaved_dirs` that takes them; None if none did."""
    text = "".join(json.dumps(r.to_json()) + "\n" for r in rows)
    name = f"{UNSAVED_PREFIX}{os.getpid()}-{int(time.time() * 1000)}.jsonl"
    for d in unsaved_dirs(run_dir, run_id):
        path = d / name
        try:
            d.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            return path
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
    return None


def import_unsaved(store: ResultStore, run_dir: Path | str, run_id: str | None) -> int:
    """Record the rows of every unsaved-rows file of this run (never over a final result, as `record`),
    deleting each file once its rows are in. A line cut short by the full disk is skipped: that attempt was
    never recorded, so the resumed run redoes it. Returns the number of rows imported."""
    names = {f.name for f in fields(AttemptRow)}
    n = 0
    for d in unsaved_dirs(run_dir, run_id):
        for path in sorted(d.glob(f"{UNSAVED_PREFIX}*.jsonl")) if d.is_dir() else ():
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    data = json.loads(line)
                    row = AttemptRow(**{k: v for k, v in data.items() if k in names})
                except (ValueError, TypeError):
                    continue
                store.record(row)
                n += 1
            path.unlink()
    return n
