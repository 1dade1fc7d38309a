"""The proof-structure tree of Lean text: declarations, tactic blocks and the tactic items in them.

A tactic *block* is what follows ``by``, a bullet ``·``, ``case … =>`` / ``next =>`` or a tactic-mode arm
``| pat =>``: a sequence of *items* at one column (the column of its first item, as Lean's
``sepByIndent`` / ``checkColEq`` decides). An *item* is one tactic with everything Lean parses as part of it:
lines indented deeper than the block, lines inside open brackets, and lines at the block's column that can
only continue it (``|`` arms, ``<;>``, calc steps ``_ = …``, closing brackets, infix operators). Each
``by`` / bullet / ``case`` / arm inside an item opens a nested block, so ``have … := by`` proofs, bullets,
``cases … with`` arms, ``calc`` steps proved ``by …`` and ``(by simp)`` terms all become sub-trees.

Positions are offsets into the text in Unicode code points (Python ``str`` indices); `Source` converts them
to Lean's positions (1-based line, 0-based column in code points). Lines are split on ``"\\n"`` only, as
Lean counts them (``str.splitlines`` would also split on U+2028 and friends and shift every line after).

Reading the text: declarations, commands and the masked text (comments and string contents blanked, same
length) come from the project's one scanner, `prover.lean.syntax`; the tree is matched on the masked text,
so a ``by`` in a comment or a bracket in a string changes nothing. The tree is built from that masked text with
a few token rules; it mirrors how Lean's whitespace-sensitive tactic parser groups lines, not Lean's full
grammar (a term proof stays one leaf). Everything here is pure and cheap: parsing a 100-line proof takes
well under a millisecond.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from prover.lean import syntax

OPEN = "([{⟨⦃⁅"
CLOSE = ")]}⟩⦄⁆"
_WORD = r"[\w'!?₀-₉ᵢ-ᵪ]"
BY_RE = re.compile(r"(?<![\w'!?.₀-₉])by(?![\w'!?₀-₉])")
ARROW_RE = re.compile(r"=>")
_NEWLINE_RE = re.compile(r"\n")
# What `_scan_item` has to look at: line breaks, brackets, separators, `<;>` and `by`.
_SCAN_RE = re.compile(r"[\n;,]|[" + re.escape(OPEN + CLOSE) + r"]|<;>|(?<![\w'!?.₀-₉])by(?![\w'!?₀-₉])")
_HEAD_RE = re.compile(r"[\w'!?.₀-₉ᵢ-ᵪ@]+|<;>|\S")
# Tactics whose `| pat =>` arms hold tactic blocks (term-mode `match` / `fun` arms hold terms).
ARM_HEADS = frozenset({"induction", "cases", "match", "rcases", "obtain", "induction'", "cases'"})
# Tactics whose argument is a tactic sequence (a nested block of kind "combinator"). Repair treats such an
# item as one leaf: a `sorry` inside `all_goals` would stand for several goals at one position.
COMBINATORS = frozenset({"all_goals", "any_goals", "try", "repeat", "repeat'", "iterate", "focus", "classical"})
BULLETS = ("·", ".")
CASE_HEADS = frozenset({"case", "case'", "next"})
# A line at the block's column that starts with one of these continues the item above it.
_CONT_PREFIXES = ("|", "<;>", "_ ", "then", "else", ":=", "with", "at ", "+", "*", "/", "=", "<", ">", "≤", "≥")
_CONT_PREFIXES += ("≠", "∧", "∨", "→", "↔", "∣", "%", "^", "•", "∘", "⁻¹", "-")


@functools.lru_cache(maxsize=64)
def scanned(text: str) -> syntax.Source:
    """The project's scanner (`prover.lean.syntax`) on ``text``, cached: repair reads one text many times."""
    return syntax.scan(text)


def masked_text(text: str) -> str:
    """``text`` with comments and string contents blanked (same length, same lines and columns)."""
    return scanned(text).masked


class Source:
    """A text with its masked form and line index; converts offsets ⇄ (line 1-based, column in code points)."""

    def __init__(self, text: str, masked: str | None = None) -> None:
        self.text = text
        self.masked = masked if masked is not None else masked_text(text)
        self.line_starts = [0] + [m.end() for m in _NEWLINE_RE.finditer(text)]

    def pos(self, offset: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.line_starts, offset) - 1
        return k + 1, offset - self.line_starts[k]

    def offset(self, line: int, column: int) -> int:
        """Offset of Lean's (line, column); clamped to the text (a column past the line's end is its end)."""
        if line < 1:
            return 0
        if line > len(self.line_starts):
            return len(self.text)
        start = self.line_starts[line - 1]
        end = self.line_end(start)
        return min(start + max(column, 0), end)

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1 + 1

    def column(self, offset: int) -> int:
        return offset - self.line_start(offset)

    def line_start(self, offset: int) -> int:
        return self.line_starts[bisect.bisect_right(self.line_starts, offset) - 1]

    def line_end(self, offset: int) -> int:
        """Offset of the ``\\n`` ending the line of ``offset`` (or the text's end)."""
        j = self.text.find("\n", offset)
        return len(self.text) if j < 0 else j

    def indent(self, offset: int) -> int:
        """Indentation (leading spaces) of the line of ``offset``."""
        s = self.line_start(offset)
        e = self.line_end(s)
        line = self.text[s:e]
        return len(line) - len(line.lstrip(" \t"))

    def next_code(self, offset: int, limit: int | None = None) -> int:
        """First non-blank character of the masked text at or after ``offset`` (``limit`` if none before it)."""
        limit = len(self.masked) if limit is None else limit
        m = self.masked
        while offset < limit and m[offset].isspace():
            offset += 1
        return min(offset, limit)

    def last_code_before(self, offset: int, floor: int = 0) -> int:
        """Offset just after the last non-blank masked character before ``offset`` (``floor`` if none)."""
        m = self.masked
        while offset > floor and m[offset - 1].isspace():
            offset -= 1
        return offset

    def is_line_start(self, offset: int) -> bool:
        """Only blanks (or masked comments) before ``offset`` on its line."""
        return not self.masked[self.line_start(offset) : offset].strip()


@dataclass(eq=False)
class Block:
    """A tactic sequence. ``start`` is just after its opener; ``items`` may be empty (``by`` with nothing after)."""

    kind: str  # "by" | "bullet" | "case" | "arm" | "combinator"
    opener: tuple[int, int] | None  # span of `by` / `·` / `=>`
    start: int
    limit: int  # how far the block could extend (the enclosing item's end, or the declaration's end)
    items: list[Item] = field(default_factory=list)
    column: int | None = None
    parent: Item | None = None
    in_brackets: bool = False

    @property
    def end(self) -> int:
        return self.items[-1].end if self.items else self.start

    @property
    def code_items(self) -> list[Item]:
        return self.items

    def contains(self, offset: int) -> bool:
        lo = self.opener[0] if self.opener else self.start
        return lo <= offset <= self.end

    def walk(self) -> Iterator[Block | Item]:
        yield self
        for it in self.items:
            yield from it.walk()


@dataclass(eq=False)
class Item:
    """One tactic (with its continuation lines and nested blocks). ``end`` is just after its last code char."""

    start: int
    end: int
    head: str
    parent: Block
    blocks: list[Block] = field(default_factory=list)

    @property
    def index(self) -> int:
        return self.parent.items.index(self)

    @property
    def is_last(self) -> bool:
        return self.parent.items[-1] is self

    def walk(self) -> Iterator[Block | Item]:
        yield self
        for b in self.blocks:
            yield from b.walk()


@dataclass(eq=False)
class DeclTree:
    """A declaration of the text: its statement (never edited) and its proof (a block, or a term)."""

    kind: str
    name: str | None
    start: int  # offset of the keyword
    end: int  # end of its region (start of the next declaration, or the text's end)
    assign: int | None  # offset of the `:=` that ends the statement (None: no `:=` found)
    main: Block | None = None  # the `by` block of the proof
    term: tuple[int, int] | None = None  # a term proof's span

    @property
    def statement_end(self) -> int:
        """Offset just after the statement's ``:=`` (or the region's end when there is none)."""
        return self.assign + 2 if self.assign is not None else self.end

    @property
    def proof_end(self) -> int:
        if self.main is not None:
            return self.main.end
        if self.term is not None:
            return self.term[1]
        return self.statement_end

    def walk(self) -> Iterator[Block | Item]:
        if self.main is not None:
            yield from self.main.walk()


@dataclass(eq=False)
class ProofFile:
    source: Source
    decls: list[DeclTree]
    commands: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind) of every command

    @property
    def text(self) -> str:
        return self.source.text

    def decl_at(self, offset: int) -> DeclTree | None:
        for d in self.decls:
            if d.start <= offset < d.end or (offset == d.end == len(self.text) and d.start <= offset):
                return d
        return None

    def command_at(self, offset: int) -> tuple[int, int, str] | None:
        """The command (not a declaration's region) whose span holds ``offset``."""
        for c in self.commands:
            if c[0] <= offset < max(c[1], c[0] + 1):
                return c
        return None


# ---------------------------------------------------------------------------------------------------
# Parsing


def parse(text: str, blocks: bool = True) -> ProofFile:
    """The declarations of ``text`` with their proof trees (``blocks=False``: statements only, cheaper).

    Declarations and commands come from the project's scanner; a declaration's region runs from its first
    token (doc comment, attributes, ``open … in`` prefix) to the start of the next command, so text that Lean
    would read as junk after a proof (but not a new command) stays in it.
    """
    syn = scanned(text)
    src = Source(text, syn.masked)
    starts = sorted({c.start for c in syn.commands})
    out: list[DeclTree] = []
    for d in syn.declarations:
        if d.kind in ("structure", "class", "inductive", "class inductive", "coinductive"):
            continue
        later = [c for c in starts if c >= d.end]
        end = later[0] if later else len(text)
        assign = d.delimiter_span[0] if d.delimiter == ":=" and d.delimiter_span else None
        out.append(_parse_decl(src, d.kind, d.name, d.keyword, end, assign, blocks))
    return ProofFile(src, out, [(c.start, c.end, c.kind) for c in syn.commands])


def _parse_decl(
    src: Source, kind: str, name: str | None, start: int, end: int, assign: int | None, blocks: bool = True
) -> DeclTree:
    tree = DeclTree(kind, name, start, end, assign)
    if assign is None or not blocks:
        return tree
    p = src.next_code(assign + 2, end)
    m = BY_RE.match(src.masked, p)
    if m and p < end:
        tree.main = parse_block(src, "by", (p, m.end()), m.end(), end)
    else:
        stop = src.last_code_before(end, p)
        tree.term = (p, max(p, stop))
    return tree


def parse_block(
    src: Source,
    kind: str,
    opener: tuple[int, int] | None,
    start: int,
    limit: int,
    parent: Item | None = None,
    in_brackets: bool = False,
) -> Block:
    """Parse the tactic block that starts after ``opener`` and may extend up to ``limit``."""
    block = Block(kind, opener, start, limit, parent=parent, in_brackets=in_brackets)
    pos = src.next_code(start, limit)
    if pos >= limit or src.masked[pos] in CLOSE or (in_brackets and src.masked[pos] == ","):
        return block
    col = src.column(pos)
    block.column = col
    while pos < limit:
        end = _scan_item(src, pos, limit, col, in_brackets)
        if end <= pos:
            break
        item = Item(pos, end, _head(src.masked, pos), block)
        block.items.append(item)
        _parse_nested(src, item)
        nxt = src.next_code(end, limit)
        if nxt >= limit or src.masked[nxt] in CLOSE or src.masked[nxt] == ",":
            break
        if src.masked[nxt] == ";":  # `tac1; tac2`: the next item follows the separator
            nxt = src.next_code(nxt + 1, limit)
            if nxt >= limit:
                break
            pos = nxt
            continue
        if not src.is_line_start(nxt) or src.column(nxt) != col:
            break
        pos = nxt
    return block


def _head(masked: str, pos: int) -> str:
    m = _HEAD_RE.match(masked, pos)
    return m.group(0) if m else ""


def _continues(masked: str, j: int, head: str) -> bool:
    """A line starting at ``j`` at the block's column continues the item above it."""
    rest = masked[j : j + 8]
    if rest.startswith(("·", ". ")):
        return False
    if rest.startswith("_") and head == "calc":
        return True
    return rest.startswith(_CONT_PREFIXES) and not rest.startswith("--")


def _scan_item(src: Source, start: int, limit: int, col: int, in_brackets: bool) -> int:
    """End (after its last code character) of the item starting at ``start`` in a block at column ``col``."""
    m = src.masked
    head = _head(m, start)
    depth = 0
    stop = limit
    opened_by = False  # a `by` at depth 0 takes the rest of the line (`; tac` included): Lean's greedy parse
    pos = start
    while True:
        hit = _SCAN_RE.search(m, pos, limit)
        if hit is None:
            break
        i, tok = hit.start(), hit.group(0)
        pos = hit.end()
        if tok == "\n":
            j = src.next_code(i, limit)
            if j >= limit:
                break
            last = src.last_code_before(i, start)
            dangling = m[max(start, last - 3) : last] == "<;>"  # `tac <;>` then the tactic on the next line
            if depth > 0 or dangling or src.column(j) > col or (src.column(j) == col and _continues(m, j, head)):
                pos = j
                continue
            stop = i
            break
        if tok == "by":
            opened_by = opened_by or depth == 0
        elif tok in OPEN:
            depth += 1
        elif tok in CLOSE:
            if depth == 0:
                stop = i  # closes a bracket around the block: `(by simp)`
                break
            depth -= 1
        elif tok == ";" and depth == 0 and not opened_by:
            stop = i  # `tac1; tac2` are two items
            break
        elif tok == "," and depth == 0 and in_brackets:
            stop = i  # `⟨by simp, by ring⟩`
            break
    return src.last_code_before(stop, start)


def bracket_depth(masked: str, start: int, pos: int) -> int:
    """Bracket depth at ``pos`` counted from ``start`` (masked text: comments and strings blanked)."""
    depth = 0
    for c in masked[start:pos]:
        if c in OPEN:
            depth += 1
        elif c in CLOSE:
            depth = max(0, depth - 1)
    return depth


def _parse_nested(src: Source, item: Item) -> None:
    m = src.masked
    s, e = item.start, item.end
    head = item.head
    if head in BULLETS:
        item.blocks.append(parse_block(src, "bullet", (s, s + 1), s + 1, e, parent=item))
        return
    if head in CASE_HEADS:
        a = m.find("=>", s, e)
        if a >= 0:
            item.blocks.append(parse_block(src, "case", (a, a + 2), a + 2, e, parent=item))
        return
    if head in ("conv", "first"):
        return
    if head in COMBINATORS:
        a = s + len(head)
        num = re.match(r"\s*\d+", m[a:e]) if head == "iterate" else None
        a += num.end() if num else 0
        item.blocks.append(parse_block(src, "combinator", (s, a), a, e, parent=item))
        return
    arms = head in ARM_HEADS
    i = s + len(head)
    while i < e:
        mb = BY_RE.search(m, i, e)
        ma = ARROW_RE.search(m, i, e) if arms else None
        if ma is not None and not _is_tactic_arm(m, s, ma.start()):
            ma = None if mb is None or ma.start() > mb.start() else ma
            if ma is not None:  # an `=>` of a `fun` inside the arm head: skip it
                i = ma.end()
                continue
        if mb is None and ma is None:
            break
        if ma is not None and (mb is None or ma.start() < mb.start()):
            o0, o1, kind = ma.start(), ma.end(), "arm"
        else:
            assert mb is not None
            o0, o1, kind = mb.start(), mb.end(), "by"
        inside = bracket_depth(m, s, o0) > 0
        limit = _bracket_limit(m, o1, e) if inside else e
        if kind == "arm":
            limit = min(limit, _next_arm(src, o1, limit, m.rfind("|", s, o0)))
        block = parse_block(src, kind, (o0, o1), o1, limit, parent=item, in_brackets=inside)
        item.blocks.append(block)
        i = max(block.end, o1)


def _is_tactic_arm(m: str, item_start: int, arrow: int) -> bool:
    """Whether the ``=>`` at ``arrow`` ends a ``| pat`` arm (not a ``fun x =>``)."""
    bar = m.rfind("|", item_start, arrow)
    if bar < 0:
        return False
    between = m[bar:arrow]
    return not re.search(r"(?<![\w'])(fun|λ)(?![\w'])", between)


def _next_arm(src: Source, start: int, limit: int, bar: int) -> int:
    """Offset of the line of the next arm: a ``|`` starting a line at most as deep as this arm's ``|``."""
    col = src.column(bar)
    i = start
    while True:
        j = src.masked.find("|", i, limit)
        if j < 0:
            return limit
        if src.is_line_start(j) and src.column(j) <= col:
            return src.line_start(j)
        i = j + 1


def _bracket_limit(m: str, start: int, limit: int) -> int:
    """Where the bracket enclosing ``start`` closes (``limit`` if it does not before it)."""
    depth = 0
    for i in range(start, limit):
        c = m[i]
        if c in OPEN:
            depth += 1
        elif c in CLOSE:
            if depth == 0:
                return i
            depth -= 1
    return limit


# ---------------------------------------------------------------------------------------------------
# Queries


def innermost(tree: DeclTree, offset: int) -> list[Block | Item]:
    """The path (outermost first) of blocks and items of ``tree`` that contain ``offset``.

    An item contains the offsets from its start up to its end; a block the offsets from its opener to its
    end (an empty block: its opener up to the next code, so Lean's "unexpected end of input" just after a
    ``by`` falls in it).
    """
    path: list[Block | Item] = []
    block = tree.main
    while block is not None:
        path.append(block)
        nxt: Block | None = None
        for it in block.items:
            if it.start <= offset < it.end or (offset == it.end and it.is_last):
                path.append(it)
                for b in it.blocks:
                    if b.kind == "combinator":
                        break  # `all_goals tac`: the combinator is the smallest unit repair edits
                    lo = b.opener[0] if b.opener else b.start
                    hi = b.end if b.items else b.limit
                    if lo <= offset < max(hi, lo + 1) or (offset == hi and b.items):
                        nxt = b
                        break
                break
        block = nxt
    return path


def dump(tree: DeclTree, src: Source) -> str:
    """An indented outline of the tree (for debugging and tests)."""
    out: list[str] = []

    def line_of(a: int, b: int) -> str:
        s = src.text[a:b].split("\n", 1)[0]
        return s if len(s) <= 50 else s[:49] + "…"

    def rec(block: Block, depth: int) -> None:
        out.append("  " * depth + f"[{block.kind} col={block.column}]")
        for it in block.items:
            ln, col = src.pos(it.start)
            out.append("  " * (depth + 1) + f"{ln}:{col} {line_of(it.start, it.end)}")
            for b in it.blocks:
                rec(b, depth + 2)

    if tree.main is not None:
        rec(tree.main, 0)
    elif tree.term is not None:
        out.append(f"[term] {line_of(*tree.term)}")
    return "\n".join(out)
