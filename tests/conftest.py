"""Shared fixtures and the one place tests find the shared data.

* **Shared data** (real Lean transcripts and errors, benchmarks; never copied into the repo) is at
  `data.config.shared_data_dir` (``$PROVER_SHARED_DIR``, else ``shared/`` beside the checkout). A test that
  needs it carries ``@pytest.mark.shared("fixtures", "repl")`` (a module: ``pytestmark``), or asks
  `shared_path` / the ``shared_dir`` fixture: on a user's machine without it the test skips with a reason;
  in CI (``$CI`` or ``$PROVER_REQUIRE_SHARED`` set) it fails, so real-data tests never vanish silently (a
  parametrization over a missing directory's files still yields one test, which fails there).
* ``lean`` and ``gpu`` tests skip with a reason when the toolchain / CUDA is missing. A ``lean`` test runs
  under its own timeout (``$PROVER_LEAN_TEST_TIMEOUT``, default 3600 s): a cold ``import Mathlib`` and the
  900 s header timeout do not fit pytest's 300 s default.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from data.config import shared_data_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_data_dir()
REQUIRE_SHARED = bool(os.environ.get("PROVER_REQUIRE_SHARED") or os.environ.get("CI"))
LEAN_TEST_TIMEOUT = float(os.environ.get("PROVER_LEAN_TEST_TIMEOUT", 3600))


def missing_shared(*parts: str) -> str | None:
    """Why ``SHARED/parts`` cannot be used, or None when it is there."""
    path = SHARED.joinpath(*parts)
    if path.exists():
        return None
    return f"shared data not found: {path} (set PROVER_SHARED_DIR to the shared data directory)"


def shared_path(*parts: str) -> Path:
    """``SHARED/parts``; when missing: skip on a user's machine, fail in CI."""
    why = missing_shared(*parts)
    if why is not None:
        if REQUIRE_SHARED:
            pytest.fail(f"{why}; CI must run the real-data tests")
        pytest.skip(why)
    return SHARED.joinpath(*parts)


def _lean_missing() -> str | None:
    if shutil.which("lake") is None:
        return "needs Lean: `lake` not on PATH (install elan, then run scripts/setup_lean.sh)"
    project = Path(os.environ.get("PROVER_LEAN_PROJECT", REPO / "lean_project"))
    if not (project / ".lake").is_dir():
        return f"needs the built REPL in {project} (run scripts/setup_lean.sh)"
    return None


def _gpu_missing() -> str | None:
    try:
        import torch
    except ImportError:
        return "needs torch with CUDA"
    return None if torch.cuda.is_available() else "needs a CUDA GPU"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lean_reason, gpu_reason = _lean_missing(), _gpu_missing()
    for item in items:
        if "lean" in item.keywords:
            if lean_reason:
                item.add_marker(pytest.mark.skip(reason=lean_reason))
            elif item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(LEAN_TEST_TIMEOUT))
        if gpu_reason and "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=gpu_reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("shared"):
        shared_path(*mark.args)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()
