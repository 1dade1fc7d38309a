"""Configuration of the Lean layer (where the project is, limits of each REPL process)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from prover.lean.types import DEFAULT_ALLOWED_AXIOMS

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "lean_project"


def default_project_dir() -> Path:
    """``$PROVER_LEAN_PROJECT`` if set, else the ``lean_project/`` of this checkout."""
    return Path(os.environ.get("PROVER_LEAN_PROJECT", DEFAULT_PROJECT_DIR))


class LeanConfig(BaseModel):
    model_config = {"extra": "forbid"}

    project_dir: Path = Field(default_factory=default_project_dir)
    # The REPL command, run inside project_dir. Empty: `lake env <project>/.lake/packages/REPL/...`.
    repl_command: list[str] = Field(default_factory=list)
    timeout: float = 60.0  # seconds per tactic / command request
    header_timeout: float = 600.0  # elaborating `import Mathlib` from scratch is slow
    memory_limit_mb: int | None = 16_000  # RLIMIT_AS per REPL process; None = unlimited
    max_requests: int = 2_000  # recycle a process after this many requests
    max_rss_mb: int | None = 12_000  # recycle a process above this resident size
    num_processes: int = 1  # pool size
    allowed_axioms: list[str] = Field(default_factory=lambda: sorted(DEFAULT_ALLOWED_AXIOMS))
    record_path: Path | None = None  # write every request/response to this JSONL file
    replay_path: Path | None = None  # answer from such a recording instead of running Lean (ReplPool)
    header_pickle_dir: Path | None = None  # pickle each header env here once; new processes unpickle it
