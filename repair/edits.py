"""Text edits on the proof-structure tree: the primitives that repair (sorrify) and sketch masking share.

An `Edit` replaces ``text[start:end]`` (offsets in code points) by ``new``; ``start == end`` inserts.
`apply_edits` applies a set of them at once on the original text, so positions from one Lean answer stay
valid for every edit derived from it. When edits overlap, the one covering more text wins (a block that
becomes ``sorry`` absorbs an edit inside it); an insertion inside a replaced span goes with it, one at its
boundary stays (a ``sorry`` appended after a ``have`` whose term became ``sorry``).

Primitives (each returns one `Edit`):

* `sorry_item`: a tactic (with its continuation lines and nested blocks) becomes ``sorry``;
* `delete_item`: a tactic is removed (its whole lines when it is alone on them);
* `sorry_block`: a block's tactics become one ``sorry`` (an empty block gets one, on a new indented line
  when its opener ends the line);
* `append_sorry`: ``k`` lines ``sorry`` after a block's last tactic, at the block's column;
* `replace_span`: a term (e.g. a ``have``'s term proof) becomes ``sorry``;
* `comment_out`: a tactic's lines are prefixed by ``-- `` (DSP+ masks top-level sketch lines this way);
* `delete_lines`: whole lines go (junk after a proof, a helper declaration with a broken statement).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from repair.tree import Block, Item, Source


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    new: str
    why: str = ""
    rank: int = 0  # insertions at one offset: higher rank first (a deeper block's sorry before its parent's)

    def covers(self, offset: int) -> bool:
        """Whether ``offset`` (of the original text) lies in what this edit replaced or removed."""
        return self.start <= offset < self.end or (self.start == self.end == offset)


def apply_edits(text: str, edits: Iterable[Edit]) -> tuple[str, list[Edit]]:
    """Apply non-dominated edits; returns the new text and the edits that were applied (in text order)."""
    ordered = sorted(set(edits), key=lambda e: (e.start, -(e.end - e.start), e.new))
    kept: list[Edit] = []
    for e in ordered:
        dominated = False
        for k in kept:
            if e.start == e.end:
                if k.start < e.start < k.end:
                    dominated = True  # an insertion inside a replaced span (one at its boundary stays)
                    break
                continue
            if k.end > k.start and k.start <= e.start and e.end <= k.end and (e.start, e.end) != (k.start, k.end):
                dominated = True  # inside a bigger replaced span
                break
            if (e.start, e.end) == (k.start, k.end) and k.end > k.start:
                dominated = True  # the same span edited twice: the first (sorted) wins
                break
            if e.start < k.end and k.start < e.end:  # partial overlap: keep the earlier, larger one
                dominated = True
                break
        if not dominated:
            kept.append(e)
    out = text
    # Right to left; at one offset the lowest rank goes in first, so the highest ends up in front of it.
    for e in sorted(kept, key=lambda e: (e.start, e.end, -e.rank), reverse=True):
        out = out[: e.start] + e.new + out[e.end :]
    return out, sorted(kept, key=lambda e: (e.start, e.end))


def _alone_on_lines(src: Source, start: int, end: int) -> bool:
    if not src.is_line_start(start):
        return False
    return not src.masked[end : src.line_end(end)].strip()


def sorry_item(src: Source, item: Item, why: str = "") -> Edit:
    return Edit(item.start, item.end, "sorry", why)


def delete_item(src: Source, item: Item, why: str = "") -> Edit:
    """Remove a tactic; whole lines (with a trailing comment) when nothing else is on them."""
    if _alone_on_lines(src, item.start, item.end):
        a = src.line_start(item.start)
        b = src.line_end(item.end)
        b = b + 1 if b < len(src.text) else b
        if b == len(src.text) and a > 0 and src.text[b - 1] != "\n":  # last line, no newline: take the one before
            a -= 1
        return Edit(a, b, "", why)
    a, b = item.start, item.end
    m = src.masked
    after = src.next_code(b)
    if after < len(m) and m[after] == ";" and not m.startswith(";;", after):
        b = after + 1
    else:
        before = src.last_code_before(a)
        if before > 0 and m[before - 1] == ";":
            a = before - 1
    return Edit(a, b, "", why)


def sorry_block(src: Source, block: Block, why: str = "") -> Edit:
    if block.items:
        return Edit(block.items[0].start, block.end, "sorry", why)
    assert block.opener is not None
    at = block.opener[1]
    rest = src.masked[at : src.line_end(at)]
    if rest.strip() and rest.strip()[0] not in ")]}⟩,":
        return Edit(at, at, " sorry", why)
    if rest.strip():  # `(by)`: keep it on the line
        return Edit(at, at, " sorry", why)
    indent = src.indent(block.opener[0]) + 2
    return Edit(at, at, "\n" + " " * indent + "sorry", why)


def append_sorry(src: Source, block: Block, count: int = 1, why: str = "") -> Edit:
    """``count`` new lines ``sorry`` after the block's last tactic, at the block's column."""
    if not block.items or block.column is None:
        return sorry_block(src, block, why)
    col = block.column
    return Edit(block.end, block.end, ("\n" + " " * col + "sorry") * max(1, count), why, rank=col)


def replace_span(start: int, end: int, new: str = "sorry", why: str = "") -> Edit:
    return Edit(start, end, new, why)


def comment_out(src: Source, start: int, end: int, why: str = "") -> Edit:
    """Prefix every line of ``[start, end)`` with ``-- `` at its own indentation."""
    a = src.line_start(start)
    b = src.line_end(end)
    lines = src.text[a:b].split("\n")
    out = []
    for line in lines:
        stripped = line.lstrip(" ")
        out.append(line if not stripped else line[: len(line) - len(stripped)] + "-- " + stripped)
    return Edit(a, b, "\n".join(out), why)


def delete_lines(src: Source, start: int, end: int, why: str = "") -> Edit:
    """Remove the whole lines from the one of ``start`` to the one of ``end`` (inclusive)."""
    a = src.line_start(start)
    b = src.line_end(max(start, end))
    b = b + 1 if b < len(src.text) else b
    if b == len(src.text) and a > 0 and src.text[b - 1] != "\n":
        a -= 1
    return Edit(a, b, "", why)
