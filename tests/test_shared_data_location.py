"""Where the shared data is comes from one place, and real-data tests never vanish: without the data they skip
on a user's machine and fail in CI (before, a missing fixture directory made 58 transcript tests disappear)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED

from data.config import default_benchmark_dir, shared_data_dir

REPO = Path(__file__).resolve().parents[1]


def test_one_definition_of_the_shared_data_dir(monkeypatch, tmp_path: Path) -> None:
    assert shared_data_dir() == SHARED
    monkeypatch.setenv("PROVER_SHARED_DIR", str(tmp_path))
    monkeypatch.delenv("PROVER_BENCHMARK_DIR", raising=False)
    assert shared_data_dir() == tmp_path and default_benchmark_dir() == tmp_path / "benchmarks"


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "PROVER_REQUIRE_SHARED")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=REPO,
        env={**clean, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_missing_shared_data_skips_for_a_user_and_fails_in_ci(tmp_path: Path) -> None:
    files = ["tests/test_transcript_replay.py", "tests/test_repl_contract.py"]
    user = _pytest(*files, PROVER_SHARED_DIR=str(tmp_path / "nowhere"))
    assert user.returncode == 0, user.stdout[-2000:]
    counts = user.stdout.splitlines()[-1]
    assert "shared data not found" in user.stdout and "skipped" in counts and "passed" not in counts, counts
    ci = _pytest(*files, PROVER_SHARED_DIR=str(tmp_path / "nowhere"), CI="true")
    assert ci.returncode == 1 and "CI must run the real-data tests" in ci.stdout
    counts = ci.stdout.splitlines()[-1]
    assert "error" in counts and "skipped" not in counts and "passed" not in counts, counts


def test_lean_tests_get_their_own_timeout(monkeypatch) -> None:
    """pytest's 300 s is shorter than a cold `import Mathlib` and the 900 s header timeout."""
    import conftest

    class Item:
        def __init__(self, keywords: set[str]) -> None:
            self.keywords, self.marks = keywords, []

        def get_closest_marker(self, name: str):
            return next((m for m in self.marks if m.name == name), None)

        def add_marker(self, mark) -> None:
            self.marks.append(mark.mark if hasattr(mark, "mark") else mark)

    monkeypatch.setattr(conftest, "_lean_missing", lambda: None)
    lean, plain = Item({"lean"}), Item(set())
    conftest.pytest_collection_modifyitems(None, [lean, plain])  # type: ignore[arg-type]
    timeout = lean.get_closest_marker("timeout")
    assert timeout is not None and timeout.args == (conftest.LEAN_TEST_TIMEOUT,) and timeout.args[0] >= 1800
    assert plain.get_closest_marker("timeout") is None
