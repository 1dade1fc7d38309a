"""Configuration of proof search: algorithm and budgets."""

from __future__ import annotations

from pydantic import BaseModel


class SearchConfig(BaseModel):
    model_config = {"extra": "forbid"}

    algorithm: str = "best_first"  # best_first | mps
    max_expansions: int | None = 500
    max_lean_calls: int | None = None
    max_depth: int | None = 50
    time_limit: float | None = 600.0  # seconds of wall time per attempt
