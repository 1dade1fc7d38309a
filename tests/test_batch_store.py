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


def _old_store(run_dir: Path) -> Path:
    """A run directory as the first release wrote it: schema 1, one session, one proved row."""
    import json

    from prover.batch.store import _BASE_SCHEMA

    run_dir.mkdir(parents=True, exist_ok=True)
    db = run_dir / "results.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(_BASE_SCHEMA)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (json.dumps(1),))
    conn.execute("INSERT INTO sessions(started, lean_toolchain) VALUES (1.0, 'leanprover/lean4:v4.9.0')")
    conn.execute("INSERT INTO attempts(theorem, attempt, status, proof) VALUES ('a', 0, 'proved', 'theorem a ...')")
    conn.commit()
    conn.close()
    return db


def _schema_version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_an_older_store_is_migrated_in_place_by_a_writer(tmp_path: Path) -> None:
    from prover.batch.store import SCHEMA_VERSION

    db = _old_store(tmp_path)
    with ResultStore.in_run_dir(tmp_path) as s:
        assert s.get_meta("schema_version") == SCHEMA_VERSION >= 2
        sid = s.start_session(lean_version="4.24.0", lean_version_source="lake env lean --version")
        assert s.sessions()[0]["lean_toolchain"] == "leanprover/lean4:v4.9.0"  # old rows kept
        assert s.sessions()[1]["lean_version_source"] == "lake env lean --version" and sid == 2
        assert [r["status"] for r in s.attempts()] == ["proved"]
    assert _schema_version(db) == SCHEMA_VERSION


def test_a_reader_migrates_a_copy_and_leaves_the_run_dir_alone(tmp_path: Path) -> None:
    db = _old_store(tmp_path)
    before = db.read_bytes()
    with ResultStore.in_run_dir(tmp_path, readonly=True) as s:
        assert s.sessions()[0]["lean_version"] is None  # a column the old schema lacked reads as empty
        assert s.count("proved") == 1
    assert _schema_version(db) == 1 and db.read_bytes() == before


def test_a_read_only_run_dir_is_read_through_a_copy_with_its_wal(tmp_path: Path, monkeypatch) -> None:
    """SQLite cannot create the -shm file beside a WAL store in a directory it cannot write (these tests run
    as root, for whom no directory is read-only, so the check is forced): the reader copies the store and
    its WAL, whose committed rows are not in the main file yet."""
    import prover.batch.store as store_mod

    writer = ResultStore.in_run_dir(tmp_path)
    writer.conn.execute("PRAGMA wal_autocheckpoint=0")
    writer.record(AttemptRow("a", 0, "failed"))
    assert (tmp_path / "results.sqlite-wal").stat().st_size > 0
    monkeypatch.setattr(store_mod, "_dir_writable", lambda p: False)
    with ResultStore.in_run_dir(tmp_path, readonly=True) as s:
        assert [r["theorem"] for r in s.attempts()] == ["a"]
    writer.close()


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        s.set_meta("schema_version", 99)
    for readonly in (False, True):
        with pytest.raises(UserError, match=r"schema 99, written by a newer prover.*upgrade lean-prover"):
            ResultStore.in_run_dir(tmp_path, readonly=readonly)


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """Each migration is one transaction with its version bump: a store is never left half-migrated. This is
    also how another part of the project adds a column (a `Migration` and an `AttemptRow` field)."""
    import prover.batch.store as store_mod
    from prover.batch.store import MIGRATIONS, SCHEMA_VERSION, Migration

    ResultStore.in_run_dir(tmp_path).close()
    extra = Migration(
        SCHEMA_VERSION + 1,
        "attempts.test_only_column (test)",
        ("ALTER TABLE attempts ADD COLUMN test_only_column TEXT", "ALTER TABLE no_such_table ADD COLUMN x TEXT"),
    )
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*MIGRATIONS, extra))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(UserError, match="no such table"):
        ResultStore.in_run_dir(tmp_path)
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(attempts)")]
    conn.close()
    assert "test_only_column" not in cols and _schema_version(tmp_path / "results.sqlite") == SCHEMA_VERSION
    good = Migration(SCHEMA_VERSION + 1, "attempts.test_only_column (test)", extra.statements[:1])
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*MIGRATIONS, good))
    with ResultStore.in_run_dir(tmp_path) as s:
        assert "test_only_column" in [r[1] for r in s.conn.execute("PRAGMA table_info(attempts)")]
        assert s.get_meta("schema_version") == SCHEMA_VERSION + 1


def test_errors_are_redone_until_max_tries(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        s.record(AttemptRow("a", 0, "error", error="LeanCrashed: x", tries=2))
        s.record(AttemptRow("b", 0, "error", error="LeanCrashed: x", tries=4))
        assert s.done(max_tries=4) == {("b", 0)} and s.tries() == {("a", 0): 2, ("b", 0): 4}
