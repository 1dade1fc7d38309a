"""`Premise` and the `Retriever` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from prover.lean.types import Theorem


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
    def retrieve(self, state: str, theorem: Theorem | None, k: int) -> list[Premise]:
        """Top-``k`` premises for a goal state, only among those accessible to ``theorem``."""
        ...

    def close(self) -> None:
        """Free what the retriever holds (an encoder model, an index); a no-op where it holds nothing."""
        ...
