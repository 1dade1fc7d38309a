"""The sorrifier: one pure step ``(text, Lean's messages) -> text`` that turns every failing part of a
proof into ``sorry`` (or removes it), so that Lean then reports only sorries whose goals are sub-problems.

Each error (1-based line, column in code points, optional ``endPos``; positions relative to ``text``) is
mapped to the smallest node of the proof-structure tree (`repair.tree`) that contains it, and gets the edit
its kind calls for (APOLLO's rules, on a real tree instead of indentation alone):

* ``unsolved goals`` at a block's opener (``by``, ``·``, ``case … =>``, an arm's ``=>``): one ``sorry`` line
  per open goal appended at the block's column; a block on one line with its ``by`` (``have h : p := by
  simp``) becomes ``by sorry`` instead;
* ``no goals …`` at a tactic: the tactic is removed (a bullet with no goal: the whole bullet);
* any other error at a tactic (``linarith failed``, ``unknown identifier``, a parse error): the tactic becomes
  ``sorry`` when it is the last of its block, otherwise it is removed (the next tactics may still work; if
  not, the next step sees their errors);
* an error in the *term* proof of a ``have`` / ``obtain`` / calc step (after its ``:=``): that term becomes
  ``sorry``; an error in a ``have``'s own statement (before ``:=``): the ``have`` is removed;
* an error at a block's opener that is not about goals: the block's tactics become one ``sorry``; an empty
  block (``by`` and nothing after) gets ``sorry``;
* code after the proof (Lean 3 ``end``, text Lean could not attach to the proof): those lines are removed;
* an error in a statement: never edited. In the target theorem the step gives up (``gave_up``); a helper
  declaration (one the model added) with a broken statement is removed whole.

After a parse error Lean stops reading the declaration, and every ``unsolved goals`` error whose range
reaches the place where it stopped is a consequence of the truncation, not a real gap: those are *deferred*
(recorded, not edited); the next step, on the repaired text, shows which ones were real. Warnings and
``declaration uses 'sorry'`` are ignored. The statement (everything up to its ``:=``) is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prover.lean.types import Message
from repair import edits as E
from repair.messages import describe, goal_count, is_no_goals, is_parse_error, is_unsolved_goals
from repair.tree import BULLETS, CASE_HEADS, Block, DeclTree, Item, ProofFile, Source, innermost, parse

# Items whose proof is after a `:=` (term or `by`): an error before the `:=` is in their own statement.
HAVE_HEADS = frozenset(
    {"have", "haveI", "have'", "obtain", "suffices", "let", "letI", "set", "show", "replace", "calc", "rcases"}
)
APPENDED = "unsolved goals: sorry appended"
# Errors that Lean reports at a declaration's name but that are about its proof.
_PROOF_ERRORS_AT_NAME = (
    "(kernel)",
    "(deterministic) timeout",
    "maximum recursion depth",
    "declaration has metavariables",
)


@dataclass(frozen=True)
class Handled:
    message: Message
    edit: E.Edit
    rule: str  # which rule applied (for logs, tests and statistics)
    block: Block | None = field(default=None, compare=False)  # for appended sorries: the block completed


@dataclass(frozen=True)
class SorrifyStep:
    """The outcome of one step. ``text`` is the new text (the input when ``gave_up`` or nothing applied)."""

    text: str
    edits: tuple[E.Edit, ...] = ()
    handled: tuple[Handled, ...] = ()
    deferred: tuple[tuple[Message, str], ...] = ()  # (message, why it was left for the next step)
    unlocalised: tuple[tuple[Message, str], ...] = ()  # errors no node could be found for
    gave_up: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.edits)


@dataclass
class _Ctx:
    pf: ProofFile
    src: Source
    protect: frozenset[str] | None  # names whose statements may not change (None: every declaration)
    out: list[Handled] = field(default_factory=list)
    deferred: list[tuple[Message, str]] = field(default_factory=list)
    unlocalised: list[tuple[Message, str]] = field(default_factory=list)
    gave_up: str | None = None

    def add(self, msg: Message, edit: E.Edit, rule: str, block: Block | None = None) -> None:
        self.out.append(Handled(msg, edit, rule, block))


def sorrify_step(text: str, messages: list[Message] | tuple[Message, ...], target: str | None = None) -> SorrifyStep:
    """One sorrifying step on ``text`` with the ``messages`` Lean gave for exactly this text.

    ``target``: the name of the theorem being proved (its statement is the trusted one: an error there makes
    the step give up). Other declarations are helpers whose statements may be dropped; with ``target=None``
    every declaration's statement is protected.
    """
    pf = parse(text)
    ctx = _Ctx(pf, pf.source, frozenset({target}) if target is not None else None)
    errs = [m for m in messages if m.is_error]
    # Where Lean stopped reading each declaration (its first parse error).
    truncated: dict[int, int] = {}
    for m in errs:
        if m.pos is None or not is_parse_error(m.data):
            continue
        off = ctx.src.offset(m.pos.line, m.pos.column)
        d = pf.decl_at(off)
        if d is not None:
            truncated[d.start] = min(truncated.get(d.start, off), off)
    for m in errs:
        _one(ctx, m, truncated)
        if ctx.gave_up is not None:
            return SorrifyStep(text, gave_up=ctx.gave_up, unlocalised=tuple(ctx.unlocalised))
    handled = _drop_redundant_appends(ctx.out)
    new_text, applied = E.apply_edits(text, [h.edit for h in handled])
    return SorrifyStep(
        new_text,
        edits=tuple(applied),
        handled=tuple(handled),
        deferred=tuple(ctx.deferred),
        unlocalised=tuple(ctx.unlocalised),
    )


def _drop_redundant_appends(out: list[Handled]) -> list[Handled]:
    """A block whose last tactic becomes ``sorry`` for another error needs no appended ``sorry``: its
    unsolved-goals message is then handled by that edit."""
    res = []
    for h in out:
        if h.rule == APPENDED and h.block is not None and h.block.items:
            last = h.block.items[-1]
            cover = next(
                (
                    o.edit
                    for o in out
                    if o.edit.new.strip() == "sorry" and o.edit.start <= last.start and last.end <= o.edit.end
                ),
                None,
            )
            if cover is not None:
                h = Handled(h.message, cover, "unsolved goals: the block's last tactic became sorry", h.block)
        res.append(h)
    return res


def _protected(ctx: _Ctx, decl: DeclTree) -> bool:
    if not is_real_declaration(ctx.src, decl):
        return False  # a keyword in the middle of a line of prose (`… at this theorem, …`) is not a statement
    if ctx.protect is None:
        return True
    return decl.name in ctx.protect or (decl.name is not None and decl.name.split(".")[-1] in ctx.protect)


def is_real_declaration(src: Source, decl: DeclTree) -> bool:
    """Only modifiers / attributes before the keyword on its line (a keyword inside a line of a model's prose,
    ``… look at this theorem, …``, is read by Lean as a command too, but it states nothing)."""
    before = src.masked[src.line_start(decl.start) : decl.start].split()
    mods = ("private", "protected", "noncomputable", "nonrec", "unsafe", "partial")
    return all(w in mods or w.startswith("@[") for w in before)


def _one(ctx: _Ctx, m: Message, truncated: dict[int, int]) -> None:
    src = ctx.src
    if m.pos is None:
        ctx.unlocalised.append((m, "the message has no position"))
        return
    off = src.offset(m.pos.line, m.pos.column)
    end = src.offset(m.end_pos.line, m.end_pos.column) if m.end_pos is not None else None
    decl = ctx.pf.decl_at(off)
    if decl is None:
        cmd = ctx.pf.command_at(off)
        if cmd is not None and cmd[2] not in ("import", "prelude", "module"):
            # a command Lean read after a proof (a Lean 3 `end`, a keyword in the model's prose): junk
            a = src.line_start(cmd[0]) if src.is_line_start(cmd[0]) else cmd[0]
            later = [c[0] for c in ctx.pf.commands if c[0] > cmd[0]]
            b = later[0] if later else len(src.text)
            ctx.add(m, E.Edit(a, b, "", describe(m)), "junk command removed")
        else:
            ctx.unlocalised.append((m, "outside every declaration"))
        return
    data = m.data
    # Artefacts of a parse error: unsolved goals reaching the point where Lean stopped reading.
    cut = truncated.get(decl.start)
    if cut is not None and is_unsolved_goals(data) and end is not None and end >= src.last_code_before(cut):
        ctx.deferred.append((m, f"Lean stopped reading the declaration at {src.pos(cut)[0]}:{src.pos(cut)[1]}"))
        return
    if off < decl.statement_end and not (decl.main is not None and decl.main.opener and off >= decl.main.opener[0]):
        if data.startswith(_PROOF_ERRORS_AT_NAME) and decl.main is not None:
            ctx.add(m, E.sorry_block(src, decl.main, describe(m)), "whole proof (error at the declaration)")
            return
        if _protected(ctx, decl):
            ctx.gave_up = f"Lean reports an error in the statement of {decl.name or decl.kind}: {describe(m)}"
            return
        a = src.line_start(decl.start) if is_real_declaration(src, decl) else decl.start
        ctx.add(m, E.Edit(a, decl.end, "", describe(m)), "helper with a broken statement removed")
        return
    if decl.main is None:
        if decl.term is not None:
            ctx.add(m, E.replace_span(decl.term[0], decl.term[1], "by\n  sorry", describe(m)), "term proof")
        else:
            ctx.unlocalised.append((m, "the declaration has no proof to edit"))
        return
    main = decl.main
    if off > main.end and main.items:
        last = end if end is not None and end > off else off
        ctx.add(m, E.delete_lines(src, off, last, describe(m)), "junk after the proof removed")
        return
    path = innermost(decl, off)
    node = path[-1] if path else main
    if isinstance(node, Block):
        _at_block(ctx, m, node)
    else:
        _at_item(ctx, m, node, off)


def _at_block(ctx: _Ctx, m: Message, block: Block) -> None:
    src, data = ctx.src, m.data
    if is_unsolved_goals(data):
        _unsolved(ctx, m, block)
    elif is_no_goals(data) and block.parent is not None:
        ctx.add(m, E.delete_item(src, block.parent, describe(m)), "no goals: tactic removed")
    else:
        ctx.add(m, E.sorry_block(src, block, describe(m)), "block becomes sorry")


def _unsolved(ctx: _Ctx, m: Message, block: Block) -> None:
    src = ctx.src
    one_line = block.items and src.line(block.start) == src.line(block.end) and block.opener is not None
    if not block.items or block.in_brackets or (one_line and block.kind == "by"):
        ctx.add(m, E.sorry_block(src, block, describe(m)), "unsolved goals: block becomes sorry")
    else:
        ctx.add(m, E.append_sorry(src, block, goal_count(m.data), describe(m)), APPENDED, block)


def _at_item(ctx: _Ctx, m: Message, item: Item, off: int) -> None:
    src, data = ctx.src, m.data
    # An error at a bullet / `case` is about the block it opens.
    if item.blocks and (item.head in BULLETS or item.head in CASE_HEADS) and off < item.blocks[0].start:
        if is_no_goals(data):
            ctx.add(m, E.delete_item(src, item, describe(m)), "no goals: bullet removed")
        else:
            _at_block(ctx, m, item.blocks[0])
        return
    if is_unsolved_goals(data):
        # an arm `| succ n ih =>` reported at its `|`: the block its `=>` opens on the same line
        for b in item.blocks:
            if b.opener and b.opener[0] >= off and src.line(b.opener[0]) == src.line(off):
                _unsolved(ctx, m, b)
                return
    if is_no_goals(data):
        if len(item.parent.items) == 1:
            ctx.add(m, E.Edit(item.start, item.end, "skip", describe(m)), "no goals: only tactic becomes skip")
        else:
            ctx.add(m, E.delete_item(src, item, describe(m)), "no goals: tactic removed")
        return
    if item.head in HAVE_HEADS and not is_parse_error(data):
        assign = _assign_before(src, item, off)
        if assign is not None:
            stop = _term_end(src, item, assign)
            ctx.add(m, E.replace_span(assign + 2, stop, " sorry", describe(m)), "term proof becomes sorry")
            return
        if item.head not in ("calc", "show", "rcases") and _assign_after(src, item, off):
            ctx.add(m, E.delete_item(src, item, describe(m)), "have with a broken statement removed")
            return
    _leaf(ctx, m, item)


def _leaf(ctx: _Ctx, m: Message, item: Item) -> None:
    if item.is_last:
        ctx.add(m, E.sorry_item(ctx.src, item, describe(m)), "failing last tactic becomes sorry")
    else:
        ctx.add(m, E.delete_item(ctx.src, item, describe(m)), "failing tactic removed")


def _depth0_assigns(src: Source, item: Item) -> list[int]:
    """Offsets of the ``:=`` at bracket depth 0 of the item's own text (nested blocks skipped)."""
    m = src.masked
    out: list[int] = []
    depth = 0
    i = item.start
    nested = sorted((b.opener[0] if b.opener else b.start, b.end) for b in item.blocks)
    while i < item.end - 1:
        skip = next((e for s, e in nested if s <= i < e), None)
        if skip is not None:
            i = skip
            continue
        c = m[i]
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth = max(0, depth - 1)
        elif c == ":" and m[i + 1] == "=" and depth == 0:
            out.append(i)
        i += 1
    return out


def _assign_before(src: Source, item: Item, off: int) -> int | None:
    """The last depth-0 ``:=`` before ``off`` whose term (not a nested ``by`` block) contains ``off``."""
    best = None
    for a in _depth0_assigns(src, item):
        if a < off:
            best = a
    if best is None:
        return None
    after = src.next_code(best + 2, item.end)
    if any(b.opener is not None and b.opener[0] == after for b in item.blocks):
        return None  # `:= by …`: errors inside are handled by the block
    return best if off < _term_end(src, item, best) or off == item.end else None


def _assign_after(src: Source, item: Item, off: int) -> bool:
    return any(a >= off for a in _depth0_assigns(src, item))


def _term_end(src: Source, item: Item, assign: int) -> int:
    """End of the term after the ``:=`` at ``assign``: the item's end, or for a calc step the end of its line
    group (the next line at the step's indentation or less starts the next step)."""
    m = src.masked
    base = src.indent(assign)
    i = src.line_end(assign)
    last = src.last_code_before(i, assign + 2)
    while i < item.end:
        j = src.next_code(i, item.end)
        if j >= item.end:
            break
        if src.column(j) <= base:
            break
        i = src.line_end(j)
        last = src.last_code_before(i, j)
    del m
    return max(assign + 2, min(last, item.end))
