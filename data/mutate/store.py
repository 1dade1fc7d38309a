"""The store of a mutation run: one SQLite file (WAL, ``synchronous=FULL``) in the output directory.

Like the batch store (`prover.batch.store`): only the driver writes, one transaction per event, so a killed
run (``kill -9``) loses only the work in flight. A theorem goes ``pending`` → ``found`` (its mutants are
written with it, ``pending``) → ``done`` once every mutant is final (``verified`` / ``rejected``). A resumed run
rediscovers ``pending`` theorems, verifies the ``pending`` (and ``error``) mutants of ``found`` ones, and never
touches verified or rejected mutants or ``skipped`` theorems (those that do not open: that does not change).
An infrastructure failure is ``error``, never a final result.

Tables: ``meta`` (schema, source, kinds), ``sessions``, ``candidates``, ``mutants``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from data.mutate.pipeline import Mutant, Verification
from prover.errors import UserError

SCHEMA_VERSION = 1
DB_NAME = "mutate.sqlite"
FINAL_MUTANT = ("verified", "rejected")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, last_write REAL, host TEXT, pid INTEGER, argv TEXT,
    backend TEXT, workers INTEGER, info TEXT
);
CREATE TABLE IF NOT EXISTS candidates (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, line INTEGER, position INTEGER,
    status TEXT NOT NULL DEFAULT 'pending', reason TEXT, discovery TEXT, lean_calls INTEGER DEFAULT 0,
    seconds REAL DEFAULT 0, tries INTEGER DEFAULT 0, session INTEGER, updated REAL
);
CREATE TABLE IF NOT EXISTS mutants (
    id TEXT PRIMARY KEY, candidate TEXT NOT NULL, source TEXT, file TEXT, kind TEXT, site TEXT, premise TEXT,
    tactic TEXT, name TEXT, statement TEXT, proof TEXT, status TEXT NOT NULL DEFAULT 'pending', reason TEXT,
    steps TEXT, lean_version TEXT, lean_calls INTEGER DEFAULT 0, seconds REAL DEFAULT 0, session INTEGER,
    created REAL, checked REAL
);
CREATE INDEX IF NOT EXISTS mutants_candidate ON mutants(candidate);
"""


class MutationStore:
    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise UserError(f"{self.path}: no mutation store here")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise UserError(f"{self.path}: cannot open the mutation store ({e})") from e
        self.conn.row_factory = sqlite3.Row
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif int(version) != SCHEMA_VERSION:
            raise UserError(f"{self.path}: store schema {version}, this prover reads {SCHEMA_VERSION}")

    @classmethod
    def in_dir(cls, out_dir: Path | str, **kw: Any) -> MutationStore:
        return cls(Path(out_dir) / DB_NAME, **kw)

    # -- writes -----------------------------------------------------------------------------------

    def _tx(self, *statements: tuple[str, Iterable[Any]], many: tuple[str, list[tuple]] | None = None) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self.conn.execute(sql, tuple(params))
            if many is not None:
                self.conn.executemany(many[0], many[1])
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def set_meta(self, key: str, value: Any) -> None:
        self._tx(("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  (key, json.dumps(value))))

    def start_session(self, *, argv: list[str], backend: str, workers: int, **info: Any) -> int:
        now = time.time()
        self._tx(("INSERT INTO sessions(started, last_write, host, pid, argv, backend, workers, info) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (now, now, socket.gethostname(), os.getpid(), json.dumps(argv), backend, workers,
                   json.dumps(info, default=str))))
        return int(self.conn.execute("SELECT MAX(id) FROM sessions").fetchone()[0])

    def add_candidates(
        self, rows: Iterable[tuple[str, str, str, int]], skipped: Iterable[tuple[str, str, str, int, str]]
    ) -> None:
        """New theorems of the selection (``key, name, file, line``) and those skipped when reading the source
        (``…, reason``); existing rows keep their state."""
        start = self.conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM candidates").fetchone()[0]
        params = [(k, n, f, ln, start + i) for i, (k, n, f, ln) in enumerate(rows)]
        sk = [(k, n, f, ln, start + len(params) + i, why) for i, (k, n, f, ln, why) in enumerate(skipped)]
        self._tx(many=("INSERT OR IGNORE INTO candidates(key, name, file, line, position) VALUES (?, ?, ?, ?, ?)",
                       params))
        if sk:
            self._tx(many=("INSERT OR IGNORE INTO candidates(key, name, file, line, position, status, reason) "
                           "VALUES (?, ?, ?, ?, ?, 'skipped', ?)", sk))

    def record_found(self, key: str, mutants: list[Mutant], discovery: dict[str, Any], lean_calls: int,
                     seconds: float, session: int) -> None:
        now = time.time()
        rows = [(m.id, m.candidate, m.source, m.file, m.kind, m.site, m.premise, m.tactic, m.name, m.statement,
                 m.proof, session, now) for m in mutants]
        self._tx(
            ("UPDATE candidates SET status = 'found', reason = NULL, discovery = ?, lean_calls = lean_calls + ?, "
             "seconds = seconds + ?, tries = tries + 1, session = ?, updated = ? WHERE key = ?",
             (json.dumps(discovery), lean_calls, seconds, session, now, key)),
            ("UPDATE sessions SET last_write = ? WHERE id = ?", (now, session)),
            many=("INSERT OR IGNORE INTO mutants(id, candidate, source, file, kind, site, premise, tactic, name, "
                  "statement, proof, session, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows),
        )

    def record_checked(self, mutant_id: str, v: Verification, lean_calls: int, seconds: float, session: int) -> None:
        """A mutant's verification; a final result is never overwritten."""
        now = time.time()
        steps = json.dumps([s.to_json() for s in v.steps], ensure_ascii=False) if v.steps else None
        self._tx(
            ("UPDATE mutants SET status = ?, reason = ?, steps = ?, lean_version = ?, lean_calls = lean_calls + ?, "
             "seconds = seconds + ?, session = ?, checked = ? WHERE id = ? AND status NOT IN ('verified', 'rejected')",
             (v.status, v.reason, steps, v.lean_version, lean_calls, seconds, session, now, mutant_id)),
            ("UPDATE candidates SET lean_calls = lean_calls + ?, seconds = seconds + ? WHERE key = "
             "(SELECT candidate FROM mutants WHERE id = ?)", (lean_calls, seconds, mutant_id)),
        )

    def record_status(self, key: str, status: str, reason: str = "", lean_calls: int = 0, seconds: float = 0.0,
                      session: int | None = None) -> None:
        """``skipped`` / ``error`` for a theorem, or ``done`` (only once all its mutants are final)."""
        now = time.time()
        if status == "done":
            open_ = self.conn.execute(
                "SELECT COUNT(*) FROM mutants WHERE candidate = ? AND status NOT IN ('verified', 'rejected')", (key,)
            ).fetchone()[0]
            if open_:
                return
        tries = 1 if status in ("skipped", "error") else 0
        self._tx(("UPDATE candidates SET status = ?, reason = ?, lean_calls = lean_calls + ?, seconds = seconds + ?, "
                  "tries = tries + ?, session = COALESCE(?, session), updated = ? WHERE key = ?",
                  (status, reason or None, lean_calls, seconds, tries, session, now, key)))

    # -- reads ------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        r = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    def candidates(self, status: str | None = None) -> list[dict[str, Any]]:
        if status is None:
            rows = self.conn.execute("SELECT * FROM candidates ORDER BY position")
        else:
            rows = self.conn.execute("SELECT * FROM candidates WHERE status = ? ORDER BY position", (status,))
        return [dict(r) for r in rows]

    def mutants(self, status: str | None = None, candidate: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM mutants", []
        conds = []
        if status is not None:
            conds.append("status = ?")
            params.append(status)
        if candidate is not None:
            conds.append("candidate = ?")
            params.append(candidate)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY rowid"
        return [dict(r) for r in self.conn.execute(sql, params)]

    def unfinished_mutants(self, candidate: str) -> list[Mutant]:
        rows = self.conn.execute(
            "SELECT * FROM mutants WHERE candidate = ? AND status NOT IN ('verified', 'rejected') ORDER BY rowid",
            (candidate,),
        )
        return [mutant_of_row(dict(r)) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {"candidates": {}, "mutants": {}}
        for s, n in self.conn.execute("SELECT status, COUNT(*) FROM candidates GROUP BY status"):
            out["candidates"][s] = n
        for s, n in self.conn.execute("SELECT status, COUNT(*) FROM mutants GROUP BY status"):
            out["mutants"][s] = n
        return out

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    def __enter__(self) -> MutationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mutant_of_row(r: dict[str, Any]) -> Mutant:
    return Mutant(
        id=r["id"], candidate=r["candidate"], source=r["source"], file=r["file"], kind=r["kind"], site=r["site"],
        premise=r["premise"], tactic=r["tactic"], name=r["name"], statement=r["statement"], proof=r["proof"],
    )
