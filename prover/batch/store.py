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
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prover.attempt import STATEMENT_REJECTED
from prover.errors import UserError

SCHEMA_VERSION = 1
DB_NAME = "results.sqlite"
FINAL = ("proved", "failed", "timeout")
STATUSES = ("proved", "failed", "timeout", "error")

_SCHEMA = """
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ResultStore:
    """SQLite results store; use from one thread (the batch driver). Readers may open it concurrently."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL", readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.is_file():
                raise UserError(f"{self.path}: no results store here (is this a run directory of `prover batch`?)")
            # A plain connection that never writes: "mode=ro" cannot open a WAL file whose -shm is missing.
            self.conn = sqlite3.connect(str(self.path), timeout=30.0)
            try:
                self.conn.execute("SELECT key, value FROM meta LIMIT 1").fetchall()
            except sqlite3.DatabaseError as e:
                self.conn.close()
                raise UserError(f"{self.path}: cannot read the results store ({e})") from e
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
                self.conn.executescript(_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise UserError(f"{self.path}: cannot open the results store ({e})") from e
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
            elif int(version) != SCHEMA_VERSION:
                raise UserError(f"{self.path}: store schema {version}, this prover reads {SCHEMA_VERSION}")
        self.conn.row_factory = sqlite3.Row

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
        lean_toolchain = info.pop("lean_toolchain", None)
        mathlib_rev = info.pop("mathlib_rev", None)
        self._write(
            "INSERT INTO sessions(started, last_write, host, pid, argv, backend, workers, lean_toolchain, mathlib_rev,"
            " info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                now,
                socket.gethostname(),
                os.getpid(),
                json.dumps(argv or []),
                backend,
                workers,
                lean_toolchain,
                mathlib_rev,
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

    def done(self, *, retry_errors: bool = True) -> set[tuple[str, int]]:
        """(theorem, attempt) pairs that need no more work."""
        sql = "SELECT theorem, attempt FROM attempts"
        if not retry_errors:
            return {(r[0], int(r[1])) for r in self.conn.execute(sql)}
        # Errors are redone, except a statement Lean rejected: that fails the same way every time.
        sql += " WHERE status != 'error' OR error LIKE ?"
        return {(r[0], int(r[1])) for r in self.conn.execute(sql, (STATEMENT_REJECTED + "%",))}

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
