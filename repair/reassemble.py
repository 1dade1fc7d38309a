"""Reassembly: putting proofs back where the sorries were.

* `splice`: a ``sorry`` (found by its position, as Lean reported it) is replaced by a tactic proof. In a
  tactic block the proof's lines go at the ``sorry``'s column (each line keeps its indentation relative to
  the first); a ``sorry`` that is a term (``have h : p := sorry``, ``⟨sorry, …⟩``) becomes ``by`` + the proof
  (on one line when it is one line, else on new lines indented two columns deeper than the line of the
  ``sorry``, or joined with ``;`` inside brackets where a line break would end the term).
* `add_lemmas`: proved helper lemmas are placed before the target declaration (before its attributes and
  doc comment), so the proof can use them by name.

All edits go through `repair.edits.apply_edits`, so many sorries are filled from one set of positions.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from repair.edits import Edit, apply_edits
from repair.tree import Block, DeclTree, Item, ProofFile, Source, bracket_depth, innermost, parse


class SpliceError(ValueError):
    """The position does not hold a ``sorry`` of the text."""


@dataclass(frozen=True)
class Fill:
    """A proof for the ``sorry`` at ``offset`` (``tactics``: a tactic block, without ``by``)."""

    offset: int
    tactics: str


def sorry_offsets(text: str) -> list[int]:
    """Offsets of the ``sorry`` tokens in code (not in comments or strings)."""
    import re

    src = Source(text)
    return [m.start() for m in re.finditer(r"(?<![\w'.!?])sorry(?![\w'!?])", src.masked)]


def _is_tactic(pf: ProofFile, offset: int) -> tuple[bool, Item | None]:
    d = pf.decl_at(offset)
    if d is None:
        return False, None
    path = innermost(d, offset)
    if path and isinstance(path[-1], Item) and path[-1].start == offset and path[-1].head == "sorry":
        return True, path[-1]
    return False, None


def _fill_edit(pf: ProofFile, fill: Fill) -> Edit:
    src = pf.source
    text = pf.text
    if not text.startswith("sorry", fill.offset):
        raise SpliceError(f"no sorry at {src.pos(fill.offset)}")
    proof = textwrap.dedent(fill.tactics.strip("\n")).rstrip()
    lines = [ln.rstrip() for ln in proof.split("\n")]
    end = fill.offset + len("sorry")
    tactic, item = _is_tactic(pf, fill.offset)
    if tactic:
        col = src.column(fill.offset)
        inline = not src.is_line_start(fill.offset)
        if len(lines) == 1:
            return Edit(fill.offset, end, lines[0], "filled")
        if inline and item is not None and item.parent.in_brackets:
            return Edit(fill.offset, end, "(" + "; ".join(lines) + ")" if _flat(lines) else "sorry", "filled")
        if inline and item is not None and item.parent.kind == "by" and item.parent.opener is not None:
            # `have h : p := by sorry` → the proof on new lines under the `have`
            opener_end = item.parent.opener[1]
            indent = src.indent(item.parent.opener[0]) + 2
            body = "\n".join((" " * indent + ln) if ln else "" for ln in lines)
            return Edit(opener_end, end, "\n" + body, "filled")
        pad = " " * col
        body = lines[0] + "".join("\n" + (pad + ln if ln else "") for ln in lines[1:])
        return Edit(fill.offset, end, body, "filled")
    # a term `sorry`
    if len(lines) == 1:
        return Edit(fill.offset, end, f"by {lines[0]}", "filled")
    d = pf.decl_at(fill.offset)
    in_brackets = _in_brackets(src, d, fill.offset)
    if in_brackets:
        if not _flat(lines):
            raise SpliceError("a multi-line proof with nested blocks cannot go inside brackets")
        return Edit(fill.offset, end, "(by " + "; ".join(lines) + ")", "filled")
    indent = src.indent(fill.offset) + 2
    body = "\n".join((" " * indent + ln) if ln else "" for ln in lines)
    return Edit(fill.offset, end, "by\n" + body, "filled")


def _flat(lines: list[str]) -> bool:
    """Lines that can be joined with ``;`` (no nested indentation)."""
    return all(not ln[:1].isspace() for ln in lines)


def _in_brackets(src: Source, d: DeclTree | None, offset: int) -> bool:
    return d is not None and bracket_depth(src.masked, d.statement_end, offset) > 0


def splice(text: str, fills: list[Fill]) -> str:
    """``text`` with each ``sorry`` at ``fill.offset`` replaced by ``fill.tactics``."""
    pf = parse(text)
    new, _ = apply_edits(text, [_fill_edit(pf, f) for f in fills])
    return new


def add_lemmas(text: str, target: str | None, lemmas: list[str]) -> str:
    """Place ``lemmas`` (complete declarations) before the target declaration (default: the last one)."""
    if not lemmas:
        return text
    pf = parse(text)
    decls = [d for d in pf.decls if target is None or d.name == target or (d.name or "").endswith("." + target)]
    if not decls:
        raise SpliceError(f"no declaration {target} in the text")
    d = decls[-1]
    src = pf.source
    at = src.line_start(d.start)
    # attributes / doc comment lines right above belong to the declaration
    while at > 0:
        prev = src.line_start(at - 1)
        code = src.masked[prev:at].strip()
        raw = src.text[prev:at].strip()
        if raw and (not code or code.startswith("@[")):
            at = prev
            continue
        break
    block = "\n\n".join(lm.strip("\n") for lm in lemmas) + "\n\n"
    return text[:at] + block + text[at:]


def block_of(pf: ProofFile, offset: int) -> Block | None:
    d = pf.decl_at(offset)
    if d is None:
        return None
    blocks = [n for n in innermost(d, offset) if isinstance(n, Block)]
    return blocks[-1] if blocks else None
