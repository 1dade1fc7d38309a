"""Configuration of premise retrieval."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class RetrievalConfig(BaseModel):
    model_config = {"extra": "forbid"}

    enabled: bool = False
    index_dir: Path | None = None
    k: int = 20  # premises in the generator's prompt
