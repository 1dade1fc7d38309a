"""The syntax refiner: rules for what language models get wrong in Lean 4 syntax, applied before Lean
sees a proof again (APOLLO's first step, token-aware here).

Each rule is one small function ``text -> text``. Rules only look at code (comments and strings are masked)
and only edit *proofs*: never a header line, never a statement (`refine` checks every declaration's
statement after each rule and drops a rule that would change one). Rules that undo Lean 3 habits only fire
on Lean 3 syntax that is an error in Lean 4; the one rule that could change a valid Lean 4 proof
(`split` → `constructor`) fires only in proofs written in Lean 3 style.

Rules, in the order they run:

* `strip_fences`: markdown fence lines (```` ```lean4 ````, ```` ``` ````) left in a proof are removed;
* `mangled_bullets`: a ``�`` (U+FFFD) where a bullet stood (an encoding accident on ``·``) becomes ``·``;
* `lean3_split`: a bare ``split`` becomes ``constructor``, ``refl`` becomes ``rfl`` (Lean 3 proofs only:
  Lean 4's ``split`` splits ``if``/``match``);
* `lean3_trailing_commas`: Lean 3 tactic separators (``tac,`` at the end of a line, outside brackets) go;
* `lean3_begin_end`: ``begin … end`` (Lean 3) becomes a ``by`` block (separators in ``{ … }`` too);
* `lean3_comma_by`: ``have h : p, by tac`` / ``, from t`` become ``:= by tac`` / ``:= t``;
* `lean3_lambda`: ``λ x, t`` becomes ``fun x => t``; ``assume x`` becomes ``intro x``;
* `cases_with_names`: ``cases h with x hx`` / ``induction n with n ih`` (Lean 3 naming) become
  ``cases'`` / ``induction'``;
* `rw_brackets`: ``rw foo at h`` becomes ``rw [foo] at h`` (also ``rwa``, ``erw``, ``rw ←``);
* `admit_to_sorry`: ``admit`` becomes ``sorry``;
* `missing_by`: ``:= linarith`` (a tactic where a term must be) becomes ``:= by linarith``;
* `realign_misindented`: a tactic that starts a line indented deeper than its block after a complete
  tactic (Lean reads it as junk: "unexpected token …; expected command") is moved, with the lines under
  it, to the block's column. This is by far the most common syntax slip in the recorded attempts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from repair.tree import CLOSE, OPEN, Block, Item, Source, bracket_depth, masked_text, parse

# Tactic names that cannot continue a term on the line above (so a deeper line starting with one is a new
# tactic). Names that are also terms (`rfl`, `trivial`, `decide`, `funext`, `fun`, `sorry`, `id`) are left out.
TACTIC_WORDS = frozenset(
    {
        "have", "show", "suffices", "obtain", "rcases", "rintro", "intro", "intros", "cases", "cases'", "induction",
        "induction'", "refine", "refine'", "exact", "apply", "rw", "rwa", "erw", "rewrite", "nth_rw", "nth_rewrite",
        "simp", "simp_all", "simpa", "dsimp", "simp_rw", "norm_num", "linarith", "nlinarith", "positivity", "omega",
        "ring", "ring_nf", "field_simp", "norm_cast", "push_cast", "exact_mod_cast", "apply_mod_cast", "constructor",
        "left", "right", "exfalso", "contradiction", "assumption", "use", "exists", "existsi", "specialize",
        "by_contra", "by_contra!", "by_cases", "push_neg", "unfold", "calc", "let", "set", "interval_cases",
        "split_ifs", "aesop", "tauto", "gcongr", "bound", "filter_upwards", "choose", "lift", "zify", "qify", "subst",
        "revert", "generalize", "clear", "replace", "ext", "congr", "all_goals", "any_goals", "try", "repeat", "first",
        "focus", "case", "next", "conv", "native_decide", "nlinarith!", "linarith!", "polyrith", "field_simp!",
        "norm_num!", "simp!", "symm", "trans",
    }
)
_BULLET_START = ("·",)
# A line ending in one of these expects more on the next line (a deeper line there is not misplaced).
_OPEN_ENDINGS = (":=", "=>", "<;>", ",", "by", "from", "then", "else", "do", "with", "|", "<|", "$", "fun", "λ", "←")
_OPERATOR_ENDINGS = tuple("+-*/=<>≤≥≠∧∨→↔∣%^•∘∈∉⊆⊂∪∩×")
_FENCE_RE = re.compile(r"(?m)^[ \t]*```[\w+-]*[ \t]*\n?")
_CASES_WITH_RE = re.compile(r"(?<![\w'.])(cases|induction)(\s+[^\n]*?\s)with(\s+)(?=[\w✝])")
_RW_RE = re.compile(r"(?<![\w'.])(rw|rwa|erw|rewrite|nth_rewrite\s+\d+|nth_rw\s+\d+)(\s+)(?!\[)(?=\S)")
_ADMIT_RE = re.compile(r"(?<![\w'.])admit(?![\w'])")
_LAMBDA_RE = re.compile(r"λ(\s*[^,=>\n]+?),\s*")
_ASSUME_RE = re.compile(r"(?<![\w'.])assume(?=\s)")


@dataclass(frozen=True)
class RefineResult:
    text: str
    applied: tuple[str, ...]  # names of the rules that changed the text

    @property
    def changed(self) -> bool:
        return bool(self.applied)


# ---------------------------------------------------------------------------------------------------
# Helpers: where proofs are, and regex substitution restricted to proof code


def proof_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` after each declaration's statement (``:=``) up to the declaration's end."""
    return [(d.statement_end, d.end) for d in parse(text, blocks=False).decls if d.assign is not None]


def _sub_in_proofs(text: str, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str | None]) -> str:
    """Replace matches of ``pattern`` found in the masked text that lie inside proof spans; ``repl`` gets the
    match on the masked text and returns the replacement (None: leave it)."""
    masked = masked_text(text)
    spans = proof_spans(text)
    edits: list[tuple[int, int, str]] = []
    for m in pattern.finditer(masked):
        if not any(a <= m.start() and m.end() <= b for a, b in spans):
            continue
        new = repl(m)
        if new is not None:
            edits.append((m.start(), m.end(), new))
    for a, b, new in reversed(edits):
        text = text[:a] + new + text[b:]
    return text


_LEAN3_COMMA_LINE = re.compile(
    r"(?m)^[ \t]*(?:simp|simp_all|norm_num|linarith|nlinarith|intro|intros|rw|rwa|cases|induction|split|exact|"
    r"apply|refine|unfold|field_simp|ring|ring_nf|norm_cast|push_cast|exact_mod_cast|existsi|constructor|"
    r"rcases|obtain|specialize|by_contra|push_neg|left|right|exfalso|assumption|positivity|nlinarith|omega|"
    r"subst|clear|revert|ext|congr|symmetry|simpa|dsimp|unfold_coes|norm_num1)\b[^\n]*,[ \t]*$"
)


def _lean3_comma_lines(text: str) -> list[int]:
    """Offsets of the trailing commas of Lean 3 tactic lines (``simp at h,``) in proofs, outside brackets."""
    masked = masked_text(text)
    out = []
    for a, b in proof_spans(text):
        for m in _LEAN3_COMMA_LINE.finditer(masked, a, b):
            line = m.group(0)
            if re.search(r"[∀∃λ]|(?<![\w'])fun(?![\w'])", line):
                continue
            comma = m.end() - len(line) + line.rstrip().rfind(",")
            if bracket_depth(masked, a, comma) == 0:
                out.append(comma)
    return out


def lean3_style(text: str) -> bool:
    """Whether the proofs look like Lean 3: ``begin``/``end``, or tactics separated by trailing commas."""
    masked = masked_text(text)
    for a, b in proof_spans(text):
        if re.match(r"\s*begin\b", masked[a:b]):
            return True
    return len(_lean3_comma_lines(text)) >= 2


# ---------------------------------------------------------------------------------------------------
# Rules


def strip_fences(text: str) -> str:
    """Fence lines after the first statement (on the raw text: a fence line is never Lean code, and a
    model's prose around it can confuse any reading of the text as code)."""
    spans = proof_spans(text)
    if not spans:
        return text
    start = spans[0][0]
    return text[:start] + _FENCE_RE.sub("", text[start:])


def mangled_bullets(text: str) -> str:
    return _sub_in_proofs(text, re.compile(r"(?m)^([ \t]*)\ufffd(?=\s)"), lambda m: m.group(1) + "·")


def lean3_begin_end(text: str) -> str:
    """``:= begin … end`` → ``:= by …``; inside, Lean 3 separators go: a comma ending a line or closing a
    ``{ … }`` group is dropped, one between tactics in a ``{ … }`` group becomes ``;``. (``end`` is a command
    keyword in Lean 4, so the matching ``end`` is looked for up to the next declaration.)"""
    masked = masked_text(text)
    decls = parse(text, blocks=False).decls
    out = text
    for i in reversed(range(len(decls))):
        d = decls[i]
        if d.assign is None:
            continue
        a = d.statement_end
        b = decls[i + 1].start if i + 1 < len(decls) else len(text)
        b = masked.rfind("\n", 0, b) + 1 if i + 1 < len(decls) else b
        m = re.match(r"\s*begin\b", masked[a:b])
        if not m:
            continue
        start = a + m.end() - len("begin")
        ends = list(re.finditer(r"(?m)^[ \t]*end\b[ \t]*$", masked[start:b]))
        if not ends:
            continue
        end_a, end_b = start + ends[-1].start(), start + ends[-1].end()
        body = list(out[start + len("begin") : end_a])
        mbody = masked[start + len("begin") : end_a]
        stack: list[str] = []
        for k, c in enumerate(mbody):
            if c in OPEN:
                stack.append(c)
            elif c in CLOSE:
                if stack:
                    stack.pop()
            elif c == "," and (not stack or stack[-1] == "{"):
                rest = mbody[k + 1 :].lstrip(" \t")
                if not rest or rest[0] in "\n}":
                    body[k] = ""
                elif stack:
                    body[k] = ";"
        out = out[:start] + "by" + "".join(body).rstrip(" \t\n") + out[end_b:]
    return out


def lean3_trailing_commas(text: str) -> str:
    if not lean3_style(text):
        return text
    for p in reversed(_lean3_comma_lines(text)):
        text = text[:p] + text[p + 1 :]
    return text


def lean3_comma_by(text: str) -> str:
    """``have h : p, by tac`` → ``have h : p := by tac``; ``, from t`` → ``:= t`` (depth 0 only)."""
    masked = masked_text(text)
    spans = proof_spans(text)
    edits = []
    for m in re.finditer(r",(\s*)(by|from)(?![\w'])", masked):
        if not any(a <= m.start() < b for a, b in spans):
            continue
        line_start = masked.rfind("\n", 0, m.start()) + 1
        head = masked[line_start : m.start()].lstrip()
        if not re.match(r"(have|show|suffices|obtain|haveI)\b", head):
            continue
        if bracket_depth(masked, line_start, m.start()) != 0:
            continue
        edits.append((m.start(), m.end(), " := by" if m.group(2) == "by" else " :="))
    for a, b, new in reversed(edits):
        text = text[:a] + new + text[b:]
    return text


def lean3_lambda(text: str) -> str:
    text = _sub_in_proofs(text, _LAMBDA_RE, lambda m: "fun" + m.group(1) + " => ")
    return _sub_in_proofs(text, _ASSUME_RE, lambda m: "intro")


def lean3_split(text: str) -> str:
    """Lean 3 proofs only: a bare ``split`` → ``constructor``, ``refl`` → ``rfl``."""
    if not lean3_style(text):
        return text
    bare_split = re.compile(r"(?m)^([ \t]*)split(?=[ \t]*,?[ \t]*$)")
    text = _sub_in_proofs(text, bare_split, lambda m: m.group(1) + "constructor")
    return _sub_in_proofs(text, re.compile(r"(?<![\w'.])refl(?![\w'])"), lambda m: "rfl")


def cases_with_names(text: str) -> str:
    def repl(m: re.Match[str]) -> str | None:
        return f"{m.group(1)}'{m.group(2)}with{m.group(3)}"

    return _sub_in_proofs(text, _CASES_WITH_RE, repl)


def rw_brackets(text: str) -> str:
    """``rw foo at h`` → ``rw [foo] at h``: the rules up to `` at ``, ``;``, ``<;>``, a Lean 3 ``,`` or a
    closing bracket (``{ rw h }``)."""
    masked = masked_text(text)
    spans = proof_spans(text)
    edits = []
    for m in _RW_RE.finditer(masked):
        if not any(a <= m.start() < b for a, b in spans):
            continue
        s = m.end()
        line_end = masked.find("\n", s)
        line_end = len(masked) if line_end < 0 else line_end
        depth, cut = 0, line_end
        for i in range(s, line_end):
            c = masked[i]
            if c in OPEN:
                depth += 1
            elif c in CLOSE:
                if depth == 0:
                    cut = i
                    break
                depth -= 1
            elif depth == 0 and (c in ";," or masked.startswith((" at ", " with ", "<;>"), i)):
                cut = i
                break
        arg_end = s + len(masked[s:cut].rstrip())
        if arg_end > s:
            edits.append((s, arg_end, f"[{text[s:arg_end]}]"))
    for a, b, new in reversed(edits):
        text = text[:a] + new + text[b:]
    return text


def admit_to_sorry(text: str) -> str:
    return _sub_in_proofs(text, _ADMIT_RE, lambda m: "sorry")


def missing_by(text: str) -> str:
    """``have h : p := nlinarith [...]``: a tactic after ``:=`` (where a term must be) gets its ``by``."""
    tactics = (re.escape(w) for w in TACTIC_WORDS if w not in ("have", "show", "let", "calc", "suffices"))
    words = "|".join(sorted(tactics, key=len, reverse=True))
    pattern = re.compile(r":=([ \t]*\n?[ \t]*)(?=(?:" + words + r")(?![\w'!?]))")
    return _sub_in_proofs(text, pattern, lambda m: ":= by" + m.group(1) if m.group(1) else ":= by ")


def realign_misindented(text: str) -> str:
    """Move tactics that start a line deeper than their block (after a complete tactic) to the block's column."""
    for _ in range(50):  # one shift per round; nested blocks need a few
        pf = parse(text)
        shift = None
        for d in pf.decls:
            for node in d.walk():
                if isinstance(node, Item):
                    shift = _misindented(pf.source, node)
                    if shift is not None:
                        break
            if shift is not None:
                break
        if shift is None:
            return text
        text = _dedent_lines(text, *shift)
    return text


def _misindented(src: Source, item: Item) -> tuple[int, int, int] | None:
    """``(from_offset, to_offset, columns)``: lines of ``item`` to move left, or None."""
    block: Block = item.parent
    col = block.column
    if col is None:
        return None
    m = src.masked
    nested = [(b.opener[0] if b.opener else b.start, b.end) for b in item.blocks]
    line = src.line_end(item.start)
    while line < item.end:
        j = src.next_code(line, item.end)
        if j >= item.end:
            return None
        c = src.column(j)
        prev_end = src.last_code_before(src.line_start(j), item.start)
        inside_nested = any(a <= j < b for a, b in nested)  # handled when the walk reaches that block
        if (
            c > col
            and not inside_nested
            and bracket_depth(m, item.start, j) == 0
            and _starts_tactic(m, j)
            and not _expects_more(m[item.start : prev_end])
        ):
            return j, item.end, c - col
        line = src.line_end(j)
    return None


def _starts_tactic(masked: str, j: int) -> bool:
    if masked.startswith(_BULLET_START, j):
        return True
    word = re.match(r"[\w'!?]+", masked[j:])
    return word is not None and word.group(0) in TACTIC_WORDS


_NEEDS_ARGUMENT = frozenset({"all_goals", "any_goals", "try", "repeat", "focus", "iterate", "first", "exact", "apply"})
_NEEDS_ARGUMENT |= {"refine", "refine'", "calc", "show", "suffices", "have", "use", "conv", "case", "next", "·"}
_NEEDS_ARGUMENT |= {"classical"}  # `classical` + an indented block is valid (recorded attempt: Lean parsed it)


def _expects_more(code: str) -> bool:
    code = code.rstrip()
    if not code:
        return True
    last_word = re.search(r"[\w'!?·]+$", code)
    if last_word is not None and last_word.group(0) in _NEEDS_ARGUMENT:
        return True
    if re.search(r"(?<![\w'])(iterate|on_goal)\s+\d+(\s*=>)?$", code):
        return True
    if code.endswith(_OPEN_ENDINGS) or code[-1] in OPEN or code.endswith(_OPERATOR_ENDINGS):
        word = re.search(r"[\w'!?]+$", code)
        if code.endswith(("by", "from", "then", "else", "do", "with", "fun")) and word is not None:
            return word.group(0) in ("by", "from", "then", "else", "do", "with", "fun")
        return True
    return False


def _dedent_lines(text: str, start: int, end: int, cols: int) -> str:
    """Remove up to ``cols`` leading spaces from each line that overlaps ``[start, end)``."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    b = len(text) if b < 0 else b
    lines = text[a:b].split("\n")
    out = []
    for line in lines:
        k = len(line) - len(line.lstrip(" "))
        out.append(line[min(k, cols) :])
    return text[:a] + "\n".join(out) + text[b:]


RULES: tuple[Callable[[str], str], ...] = (
    strip_fences,
    mangled_bullets,
    lean3_split,  # before the begin/end and comma rules: it needs to see Lean 3 style
    lean3_trailing_commas,
    lean3_begin_end,
    lean3_comma_by,
    lean3_lambda,
    cases_with_names,
    rw_brackets,
    admit_to_sorry,
    missing_by,
    realign_misindented,
)


def _statements(text: str) -> list[tuple[str | None, str]]:
    return [(d.name, text[d.start : d.statement_end]) for d in parse(text, blocks=False).decls]


def refine(text: str, rules: tuple[Callable[[str], str], ...] = RULES) -> RefineResult:
    """Apply ``rules`` in order; a rule whose output changes a statement (or the header) is skipped."""
    decls = parse(text, blocks=False).decls
    stmts = [(d.name, text[d.start : d.statement_end]) for d in decls]
    head = text[: decls[0].start] if decls else text
    applied: list[str] = []
    for rule in rules:
        new = rule(text)
        if new == text:
            continue
        ok_head = new.startswith(head)
        if _statements(new) != stmts or not ok_head:
            continue
        text = new
        applied.append(rule.__name__)
    return RefineResult(text, tuple(applied))
