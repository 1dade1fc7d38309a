"""Reading Lean's messages for repair: what kind of error a message is, how many goals it lists, and
Lean's command-line diagnostics (``file:line:col: error: text``) turned into `Message` objects."""

from __future__ import annotations

import re
from collections.abc import Iterable

from prover.lean.types import Message, Pos

_DIAG_RE = re.compile(
    r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|info|information)(?:\([^)]*\))?: ?(?P<msg>.*)$"
)
_PARSE_PREFIXES = (
    "unexpected token",
    "unexpected identifier",
    "unexpected end of input",
    "unexpected syntax",
    "unterminated",
    "expected ",
    "invalid 'end'",
)


def parse_diagnostics(text: str, line_offset: int = 0) -> list[Message]:
    """Messages of ``lake env lean FILE`` output (``FILE:LINE:COL: severity: text`` + continuation lines).

    Positions are Lean's (line 1-based, column 0-based in code points) minus ``line_offset`` lines. The
    text form has no end position, so ``end_pos`` is None.
    """
    out: list[tuple[str, str, Pos, list[str]]] = []
    for line in text.splitlines():
        m = _DIAG_RE.match(line)
        if m:
            sev = "info" if m.group("sev") == "information" else m.group("sev")
            pos = Pos(int(m.group("line")) - line_offset, int(m.group("col")))
            out.append((sev, m.group("file"), pos, [m.group("msg")]))
        elif out:
            out[-1][3].append(line)
    return [Message(sev, "\n".join(lines).rstrip("\n"), pos) for sev, _, pos, lines in out]


def errors(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if m.is_error]


def is_unsolved_goals(data: str) -> bool:
    return data.startswith("unsolved goals")


def is_no_goals(data: str) -> bool:
    """``no goals to be proved`` (Lean), ``no goals to be solved`` (older Mathlib tactics), ``no goals``."""
    return data.startswith("no goals")


def is_parse_error(data: str) -> bool:
    return data.startswith(_PARSE_PREFIXES)


def is_sorry_warning(m: Message) -> bool:
    return not m.is_error and re.search(r"declaration uses ['`]sorry", m.data) is not None


def goal_count(data: str) -> int:
    """How many goals an ``unsolved goals`` (or similar) message lists: the lines starting with ``⊢``."""
    return max(1, sum(1 for line in data.split("\n") if line.startswith("⊢")))


def first_line(data: str, limit: int = 160) -> str:
    s = data.strip().split("\n", 1)[0] if data.strip() else ""
    return s if len(s) <= limit else s[: limit - 1] + "…"


def describe(m: Message) -> str:
    """``L:C: first line of the message`` (positions as Lean prints them)."""
    where = f"{m.pos.line}:{m.pos.column}: " if m.pos else ""
    return f"{where}{first_line(m.data)}"
