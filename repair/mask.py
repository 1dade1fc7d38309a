"""Sketch masking (DSP+): pure steps on a sketch's text and Lean's messages, so each is testable without Lean.

A sketch is a Lean skeleton whose steps end in placeholders that name the hypotheses they use
(``prove_with [h₁, h₃]``). DSP+ defines the placeholder as a macro in its Lean header; the soundness gate
forbids macros in model-written text, so here placeholders never reach Lean:

* `read_placeholders`: each placeholder in code becomes ``sorry``; its hypothesis list is kept on the side
  (`Placeholder`, by the offset of its ``sorry``), and `remap` carries those offsets through later edits;
* `mask_step`: one masking step ``(text, messages) -> text`` with DSP+'s rules on the repair loop's
  structure tree (`repair.tree`), for the errors Lean reports in the target theorem's tactic proof:

  - an error in a top-level tactic (depth 1, DSP+'s "level 1": a line of the main ``by`` block): the
    tactic is commented out with everything nested in it (its whole lines; a tactic sharing its line with
    others is removed instead, so the statement's line is never commented);
  - an error deeper (inside a ``have … := by``, a bullet, an arm): that tactic becomes ``sorry`` and its
    later siblings go (DSP+: "sorry and drop the rest of the block");
  - strict mode (the caller sets it when the same error lines come back): the *parent* of the failing tactic
    becomes ``sorry`` and its later siblings go;
  - ``no goals`` (a step after a placeholder that already closed the goal): the tactic is commented out at
    any depth (DSP+ would put a ``sorry`` there, which fails the same way);
  - only when no other error is left, ``unsolved goals`` get ``sorry`` appended in their block (DSP+ appends
    one at the end of the proof; the tree finds the block the goals belong to).

  Errors elsewhere (a statement, a term proof, code after the proof, helper lemmas the model added) go to
  the repair sorrifier (`repair.sorrify.sorrify_step`); the target's statement is never edited, and an error
  in it ends the masking (``gave_up``): the sketch restated the theorem in a way Lean rejects.
* `clear_lines`: the hypothesis lists become ``clear * - h₁ h₃`` before each placeholder's ``sorry`` (only
  names in the sorry's local context: DSP+ removes a ``clear`` that fails instead).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from prover.lean.types import Message
from repair import edits as E
from repair.messages import describe, is_no_goals, is_unsolved_goals
from repair.reassemble import Fill, splice
from repair.sorrify import is_real_declaration, sorrify_step
from repair.subgoals import GoalNotStatable, parse_goal
from repair.tree import Item, Source, innermost, masked_text, parse

PLACEHOLDER = "prove_with"
_NAME_RE = re.compile(r"[^\s\[\](){},:;`]+")
CLEAR_RE = re.compile(r"^[ \t]*clear \* -[^\n]*$", re.M)


@dataclass(frozen=True)
class Placeholder:
    """A step's placeholder, now the ``sorry`` at ``offset``; ``hyps``: the names it listed (``listed``: a
    list was written; a bare placeholder keeps nothing when cleared, as DSP+ does)."""

    offset: int
    hyps: tuple[str, ...] = ()
    listed: bool = False


def read_placeholders(text: str, name: str = PLACEHOLDER) -> tuple[str, list[Placeholder]]:
    """``text`` with each placeholder in code (``name``, optionally followed by ``[a, b, …]``, over several
    lines too) replaced by ``sorry``, and the placeholders (offsets in the new text). Placeholders in comments
    and strings are left alone. Entries that are not plain names (``h.1``, ``(foo x)``) are dropped: only
    hypotheses can be kept by ``clear``."""
    masked = masked_text(text)
    word = re.compile(r"(?<![\w'.!?])" + re.escape(name) + r"(?![\w'!?])")
    out: list[str] = []
    found: list[Placeholder] = []
    pos = 0
    shift = 0
    for m in word.finditer(masked):
        if m.start() < pos:
            continue
        end = m.end()
        hyps: list[str] = []
        listed = False
        j = end
        while j < len(masked) and masked[j] in " \t\n":
            j += 1
        if j < len(masked) and masked[j] == "[":
            close = _matching(masked, j)
            if close is not None:
                listed = True
                for part in text[j + 1 : close].split(","):
                    p = part.strip()
                    if p and _NAME_RE.fullmatch(p):
                        hyps.append(p)
                end = close + 1
        out.append(text[pos : m.start()])
        new_off = m.start() + shift
        out.append("sorry")
        shift += len("sorry") - (end - m.start())
        found.append(Placeholder(new_off, tuple(dict.fromkeys(hyps)), listed))
        pos = end
    out.append(text[pos:])
    return "".join(out), found


def _matching(masked: str, i: int) -> int | None:
    depth = 0
    for k in range(i, len(masked)):
        c = masked[k]
        if c in "[(⟨{":
            depth += 1
        elif c in "])⟩}":
            depth -= 1
            if depth == 0:
                return k if c == "]" else None
    return None


def remap(placeholders: Sequence[Placeholder], applied: Sequence[E.Edit]) -> list[Placeholder]:
    """The placeholders whose ``sorry`` survived ``applied`` (the edits `repair.edits.apply_edits` applied, on
    the old text), at their offsets in the new text."""
    out = []
    for p in placeholders:
        a, b = p.offset, p.offset + len("sorry")
        shift = 0
        gone = False
        for e in applied:
            if e.end > e.start and e.start < b and a < e.end:
                gone = True  # the edit replaced or removed the sorry
                break
            if e.end <= a:  # before it (an insertion at its offset goes in front of it)
                shift += len(e.new) - (e.end - e.start)
        if not gone:
            out.append(Placeholder(a + shift, p.hyps, p.listed))
    return out


# ---------------------------------------------------------------------------------------------------
# The masking step


@dataclass(frozen=True)
class Masked:
    message: Message
    edit: E.Edit
    rule: str


@dataclass(frozen=True)
class MaskStep:
    """One step's outcome. ``text`` is the new text (the input when ``gave_up`` or nothing applied);
    ``edits`` the applied edits (on the input text: `remap` uses them)."""

    text: str
    edits: tuple[E.Edit, ...] = ()
    handled: tuple[Masked, ...] = ()
    gave_up: str | None = None
    error_lines: tuple[int, ...] = ()  # lines of the errors other than unsolved goals (DSP+'s strict test)

    @property
    def changed(self) -> bool:
        return bool(self.edits)


def hard_errors(messages: Sequence[Message]) -> list[Message]:
    """Errors other than ``unsolved goals`` (DSP+ masks these first)."""
    return [m for m in messages if m.is_error and not is_unsolved_goals(m.data)]


def mask_step(
    text: str, messages: Sequence[Message], *, target: str | None = None, strict: bool = False
) -> MaskStep:
    """One masking step on ``text`` with the messages Lean gave for exactly this text (module docstring).
    ``target``: the theorem's name (None: the last declaration)."""
    pf = parse(text)
    src = pf.source
    real = [d for d in pf.decls if is_real_declaration(src, d)]  # not a keyword in a line of prose
    decls = [d for d in real if target is None or d.name == target or (d.name or "").endswith("." + target)]
    decl = decls[-1] if decls else None
    hard = hard_errors(messages)
    lines = tuple(sorted({m.pos.line for m in hard if m.pos is not None}))
    todo = hard or [m for m in messages if m.is_error]
    edits: list[Masked] = []
    others: list[Message] = []
    for m in todo:
        item_path = _items_at(pf, decl, src, m) if hard and decl is not None else None
        if not item_path:
            others.append(m)
            continue
        edits.append(_dsp_edit(src, m, item_path, strict))
    if others:
        st = sorrify_step(text, others, target=decl.name if decl is not None else target)
        if st.gave_up is not None:
            return MaskStep(text, gave_up=st.gave_up, error_lines=lines)
        edits += [Masked(h.message, h.edit, "sorrify: " + h.rule) for h in st.handled]
    if decl is not None:  # never the statement (sorrify's edits respect it too; this keeps it a rule)
        stmt = (decl.start, decl.statement_end)
        edits = [h for h in edits if h.edit.end <= stmt[0] or h.edit.start >= stmt[1]]
    new, applied = E.apply_edits(text, [h.edit for h in edits])
    return MaskStep(new, tuple(applied), tuple(edits), error_lines=lines)


def _items_at(pf, decl, src: Source, m: Message) -> list[Item] | None:
    """The items (outermost first) of the target's tactic proof that hold the error, or None when it is not
    in a tactic of that proof."""
    if m.pos is None or decl.main is None or not decl.main.items:
        return None
    off = src.offset(m.pos.line, m.pos.column)
    if pf.decl_at(off) is not decl or off < decl.main.items[0].start or off > decl.main.end:
        return None
    items = [n for n in innermost(decl, off) if isinstance(n, Item)]
    end = src.last_code_before(off)
    if not items and end > 0:  # a parse error reported at the end of the last token read (older Lean): that item
        items = [n for n in innermost(decl, end - 1) if isinstance(n, Item)]
        items = items if items and items[-1].end == end else []
    return items or None


def _dsp_edit(src: Source, m: Message, items: list[Item], strict: bool) -> Masked:
    why = describe(m)
    item = items[-1]
    if is_no_goals(m.data):
        return Masked(m, _comment_out(src, item, why), "no goals: commented out")
    if strict and len(items) >= 2:
        parent = items[-2]
        return Masked(m, E.Edit(parent.start, parent.parent.end, "sorry", why), "strict: parent becomes sorry")
    if len(items) == 1:
        return Masked(m, _comment_out(src, item, why), "top level: commented out")
    return Masked(m, E.Edit(item.start, item.parent.end, "sorry", why), "nested: sorry, later steps dropped")


def _comment_out(src: Source, item: Item, why: str) -> E.Edit:
    """The item's lines commented out; removed when it shares a line with other code or its lines hold a block
    comment (a ``--`` before ``/-`` would turn the comment's inside into code)."""
    alone = src.is_line_start(item.start) and not src.masked[item.end : src.line_end(item.end)].strip()
    if not alone:
        if item.is_last and len(item.parent.items) == 1:
            return E.sorry_item(src, item, why)
        return E.delete_item(src, item, why)
    raw = src.text[src.line_start(item.start) : src.line_end(item.end)]
    if "/-" in raw or "-/" in raw:
        return E.delete_lines(src, item.start, item.end, why)
    return E.comment_out(src, item.start, item.end, why)


# ---------------------------------------------------------------------------------------------------
# Clearing what a placeholder does not use


@dataclass(frozen=True)
class Cleared:
    text: str
    inserted: int = 0  # placeholders that got a ``clear``


def local_names(goal: str) -> set[str]:
    """Names of the hypotheses of a goal as Lean prints it (empty when it cannot be read)."""
    try:
        g = parse_goal(goal)
    except GoalNotStatable:
        return set()
    return {n for n in g.names if "✝" not in n}


def clear_lines(text: str, placeholders: Sequence[Placeholder], goals: dict[int, str]) -> Cleared:
    """``clear * - h…`` before each placeholder's ``sorry`` whose goal is known (``goals``: offset → goal as
    Lean printed it at that sorry). Names not in the goal's context are dropped (a global lemma, a masked
    step); a list naming none of the context keeps the goal as it is (no ``clear``); a bare placeholder clears
    everything that can be cleared (DSP+: ``clear * -``)."""
    fills: list[Fill] = []
    for p in placeholders:
        goal = goals.get(p.offset)
        if goal is None:
            continue
        local = local_names(goal)
        names = [h for h in p.hyps if h in local]
        if p.listed and p.hyps and not names:
            continue
        fills.append(Fill(p.offset, ("clear * - " + " ".join(names)).rstrip() + "\nsorry"))
    if not fills:
        return Cleared(text)
    return Cleared(splice(text, fills), len(fills))


def drop_clears_before(text: str, offsets: Sequence[int]) -> str:
    """``text`` without the ``clear * - …`` line right above each ``sorry`` at ``offsets`` (retrying a goal
    with its whole context)."""
    src = Source(text)
    cut: list[E.Edit] = []
    for off in offsets:
        start = src.line_start(off)
        if start == 0:
            continue
        prev = src.line_start(start - 1)
        if CLEAR_RE.fullmatch(text[prev : start - 1]) and src.is_line_start(off):
            cut.append(E.Edit(prev, start, "", "clear dropped"))
    new, _ = E.apply_edits(text, cut)
    return new
