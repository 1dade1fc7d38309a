"""Shared fixtures; `lean` and `gpu` tests skip with a reason when the toolchain / CUDA is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROVER_SHARED_DIR", REPO.parent / "shared"))


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
        if lean_reason and "lean" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=lean_reason))
        if gpu_reason and "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=gpu_reason))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set PROVER_SHARED_DIR)")
    return SHARED
