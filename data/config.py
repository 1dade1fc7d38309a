"""Configuration of benchmark loading and batch runs."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

_REPO = Path(__file__).resolve().parents[1]


def default_benchmark_dir() -> Path:
    """``$PROVER_BENCHMARK_DIR``, else ``$PROVER_SHARED_DIR/benchmarks``, else ``../shared/benchmarks``
    beside this checkout if present, else the download cache ``~/.cache/prover/benchmarks``."""
    if "PROVER_BENCHMARK_DIR" in os.environ:
        return Path(os.environ["PROVER_BENCHMARK_DIR"])
    if "PROVER_SHARED_DIR" in os.environ:
        return Path(os.environ["PROVER_SHARED_DIR"]) / "benchmarks"
    sibling = _REPO.parent / "shared" / "benchmarks"
    if sibling.is_dir():
        return sibling
    return Path.home() / ".cache" / "prover" / "benchmarks"


class BatchConfig(BaseModel):
    model_config = {"extra": "forbid"}

    benchmark_dir: Path = Field(default_factory=default_benchmark_dir)
    attempts: int = 1
    workers: int = 1
