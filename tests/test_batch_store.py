"""The SQLite results store: one row per (theorem, attempt), resume semantics, the gate rule, full disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from prover.batch.store import AttemptRow, ResultStore, StoreWriteError
from prover.errors import UserError


def test_rows_resume_and_no_overwrite(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        sid = s.start_session(argv=["prover", "batch"], workers=2, lean_toolchain="leanprover/lean4:v4.24.0")
        s.record(
            AttemptRow("a", 0, "proved", proof="theorem a : True := by\n  trivial", lean_version="4.24.0", session=sid)
        )
        s.record(AttemptRow("a", 1, "failed", session=sid))
        s.record(AttemptRow("b", 0, "error", error="LeanCrashed: boom", session=sid))
        s.record(AttemptRow("c", 0, "error", error="Lean rejected the statement: c: unknown identifier", session=sid))
        # a crash is redone on resume; a statement Lean rejected would fail the same way again
        assert s.done() == {("a", 0), ("a", 1), ("c", 0)}
        assert s.done(retry_errors=False) == {("a", 0), ("a", 1), ("b", 0), ("c", 0)}
        # a final result is never replaced; an error row is
        s.record(AttemptRow("a", 0, "failed", session=sid))
        s.record(AttemptRow("b", 0, "proved", proof="theorem b : True := by\n  trivial", tries=2, session=sid))
        rows = {(r["theorem"], r["attempt"]): r for r in s.attempts()}
        assert rows[("a", 0)]["status"] == "proved" and rows[("a", 0)]["lean_version"] == "4.24.0"
        assert rows[("b", 0)]["status"] == "proved" and rows[("b", 0)]["tries"] == 2
        assert s.sessions()[0]["lean_toolchain"] == "leanprover/lean4:v4.24.0"
    # reopened: everything is there (committed per row)
    with ResultStore.in_run_dir(tmp_path, readonly=True) as s:
        assert s.count() == 4 and s.count("proved") == 2


def test_proved_without_proof_text_is_refused(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        row = s.record(AttemptRow("a", 0, "proved", proof=None))
        assert row.status == "error" and "without a gated proof" in row.error
        assert s.count("proved") == 0
        with pytest.raises(ValueError):
            s.record(AttemptRow("a", 1, "maybe"))


def test_full_disk_raises_store_write_error_and_recovers(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        s.record(AttemptRow("a", 0, "failed"))
        pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
        s.conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "disk full" (SQLITE_FULL)
        with pytest.raises(StoreWriteError, match="full"):
            for i in range(200):
                s.record(AttemptRow(f"t{i}", 0, "failed", error="x" * 2000))
        s.conn.execute("PRAGMA max_page_count=1073741823")
        s.record(AttemptRow("z", 0, "failed"))
        assert ("z", 0) in s.done()


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no results store"):
        ResultStore.in_run_dir(tmp_path / "nope", readonly=True)
    (tmp_path / "results.sqlite").write_text("this is not sqlite " * 100)
    with pytest.raises(UserError, match="cannot open the results store"):
        ResultStore.in_run_dir(tmp_path)


def test_report_reader_on_corrupt_or_foreign_store_is_a_user_error(tmp_path: Path) -> None:
    # `prover report` opens the store read-only: a corrupt or foreign SQLite file is one line, not a traceback.
    (tmp_path / "results.sqlite").write_text("this is not sqlite " * 100)
    with pytest.raises(UserError, match="cannot read the results store"):
        ResultStore.in_run_dir(tmp_path, readonly=True)
    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(other / "results.sqlite").execute("CREATE TABLE x (a)")
    with pytest.raises(UserError, match="cannot read the results store"):
        ResultStore.in_run_dir(other, readonly=True)


def test_concurrent_reader_sees_committed_rows(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        s.record(AttemptRow("a", 0, "failed"))
        other = sqlite3.connect(tmp_path / "results.sqlite")
        assert other.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
        s.record(AttemptRow("a", 1, "failed"))
        assert other.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2
        other.close()
