"""Turning a found proof (a path of tactics) into Lean text.

The REPL's tactic mode applies each tactic to the *whole* proof state (all open goals, the first one
being the main goal), exactly as the next line of a tactic block does in a file. So a path
``t1, t2, ..., tk`` from the root to ``no goals`` is the tactic block ``t1 \\n t2 \\n ... tk`` — no
``·`` focusing needs to be invented, even when tactics split or close goals in between.

Multi-line tactics (``have h : p := by`` + an indented block, ``calc`` chains, ``rcases ... with`` +
bullets) are kept verbatim: a tactic is normalised once, *before* it is sent to Lean
(`normalize_tactic`), and the same text is written into the proof. `Theorem.with_proof` then indents
every line by the same two spaces, which keeps every line's column relative to the tactic's first line
— the only thing Lean's whitespace-sensitive tactic parser looks at inside a ``by`` block.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from prover.lean.types import Theorem


def normalize_tactic(tactic: str) -> str:
    """The canonical form of a generated tactic: LF line ends, no trailing spaces, no surrounding blank
    lines, common indentation removed (``textwrap.dedent``). Returns ``""`` for a blank tactic."""
    if "\n" not in tactic and "\r" not in tactic:
        return tactic.strip()
    text = tactic.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return ""
    text = textwrap.dedent("\n".join(lines))
    # dedent keeps the first line's indentation when a later line is indented less; the first line's
    # own column is then irrelevant only if it is the least indented, so strip it only in that case.
    first = text.split("\n", 1)[0]
    if first != first.lstrip() and "\n" not in text:
        text = text.lstrip()
    return text


def proof_body(tactics: Sequence[str]) -> str:
    """The tactic block (without ``by``) for a path of tactics, one tactic after another."""
    return "\n".join(normalize_tactic(t) for t in tactics if normalize_tactic(t))


def proof_text(theorem: Theorem, tactics: Sequence[str]) -> str:
    """The whole theorem text (statement + ``by`` block) that the soundness gate checks."""
    return theorem.with_proof(proof_body(tactics))


def full_file(theorem: Theorem, tactics: Sequence[str]) -> str:
    """A stand-alone ``.lean`` file: the theorem's header followed by the proved theorem."""
    header = theorem.header.rstrip()
    body = proof_text(theorem, tactics)
    return f"{header}\n\n{body}\n" if header else f"{body}\n"
