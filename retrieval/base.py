"""`Premise` and the `Retriever` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Premise:
    """A library declaration: full name, statement text as written, and where it is."""

    full_name: str
    code: str
    path: str = ""
    line: int = 0
    kind: str = "theorem"


@runtime_checkable
class Retriever(Protocol):
    def retrieve(self, state: str, theorem: object | None, k: int) -> list[Premise]:
        """Top-``k`` premises for a goal state, only among those accessible to ``theorem``."""
        ...
