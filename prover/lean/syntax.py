"""The one reader of Lean 4 source in the project: tokens, masked text, header, commands, declarations.

Everything that looks at Lean text without Lean (the soundness gate, the premise corpus, the benchmark and
theorem loaders) reads it through this module, so they agree on what is code and what is not.

The lexer follows Lean's own token functions (``Lean.Parser.Basic``: ``whitespace``, ``tokenFn``,
``identFn``, ``strLitFnAux``, ``charLitFnAux``, ``finishCommentBlock``):

* comments: ``--`` to the end of the line; ``/- -/`` nested; doc comments ``/-- -/`` and module docs
  ``/-! -/`` (also nested) are tokens of their own (`DOC`), never code;
* strings with escapes, raw strings ``r"…"`` / ``r#"…"#`` (any number of ``#``), interpolated strings
  (``s!"…"``, ``m!"…"``, ``f!"…"``, any ``ident!"…"``, and a string after the macros declared
  ``interpolatedStr(term)``: ``throwError``, ``throwErrorAt REF``, ``trace[cls]``, ``println!``, ``dbg_trace``,
  Aesop's ``aesop_trace[…]``) whose ``{…}`` parts are code;
* char literals: at a token start a ``'`` not followed by ``'`` opens one (``'a'``, ``'\\''``, ``'"'``);
  a prime inside an identifier (``h'``) is part of the identifier;
* identifiers with Lean's character classes (ASCII letters, ``_``, Greek and letter-like symbols,
  subscripts, ``'``, ``!``, ``?``) and ``«»``-escaped parts, which may contain anything but ``»``
  (also ``--``, ``/-``, ``-/``);
* numbers (decimal, scientific, ``0x``, ``0b``, ``0o``), name literals (`` `foo ``), symbols (a small
  table of multi-character tokens, else one character).

Positions: offsets into the text, lines 1-based, columns 0-based in code points (what Lean and the REPL
report). `mask` blanks comments and string contents without moving anything.

Commands are found the way Lean's parser would see their keywords: a command keyword outside brackets starts
a command (keywords are reserved tokens in Lean, so one that is not in a comment or string is a command or a
parse error). ``open … in`` / ``set_option … in`` followed by a tactic or term belong to the command they
are in. Scopes (``namespace`` / ``section`` / ``end`` / ``mutual``) resolve full names; ``_root_``,
``private`` and ``protected`` are recorded.

How it is fast: reading a file first finds only its comments, strings and char literals, with one regex
that steps over code token by token inside the regex engine (`_skim`); everything else is read from the
text with those blanked (`Source.masked`). Commands come from a scan for command keywords and brackets,
declarations from a scan of their heads and statements; proof bodies are never cut into tokens unless a
caller asks for `Source.tokens` / `Source.code` (or the token range of a command), which are assembled from
the same comments and strings plus the code between them, cut by one token regex.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

# ---------------------------------------------------------------------------------------------------
# Tokens

IDENT = "ident"
NUMBER = "number"
STRING = "string"  # a string literal, or one piece of an interpolated string (`"a{`, `}b{`, `}c"`)
CHAR = "char"
NAME = "name"  # a name literal `foo / ``foo
SYMBOL = "symbol"
COMMENT = "comment"  # -- … and /- … -/
DOC = "doc"  # /-- … -/ and /-! … -/

# Lean's `isLetterLike` and `isSubScriptAlnum` (Lean.Parser / Init.Meta); `Char.isAlpha` is ASCII only.
_LETTERLIKE = "α-κμ-ωΑ-ΟΡΤ-Ωϊ-ϻἀ-῾℀-⅏𝒜-𝖟"
_SUBSCRIPT = "₀-₉ₐ-ₜᵢ-ᵪ"
_ID_FIRST = f"A-Za-z_{_LETTERLIKE}"
_ID_REST = f"A-Za-z0-9_'!?{_LETTERLIKE}{_SUBSCRIPT}"
_ID_PART = f"(?:«[^»]*»|[{_ID_FIRST}][{_ID_REST}]*)"
_IDENT_SRC = f"{_ID_PART}(?:\\.{_ID_PART})*"
_IDENT_RE = re.compile(_IDENT_SRC)
_ID_PART_RE = re.compile(f"«([^»]*)»|([{_ID_FIRST}][{_ID_REST}]*)")
_NUM_SRC = r"0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_NUM_RE = re.compile(_NUM_SRC)
_CHR_BODY = r"(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.))'"  # after the opening `'`

# Multi-character symbols (longest first). Lean's real token table depends on the environment; both sides
# of any comparison are cut the same way, so this list only has to keep `:=` and friends whole.
_SYMBOLS = sorted(
    [
        ":=", "::", "=>", "<;>", "->", "<-", "<->", "...", "..", "<=", ">=", "!=", "==", "&&", "||", "++",
        "<|>", "<|", "|>.", "|>", "^^", "%[", "#[", "@[", "$(", "<$>", ">>=", ">>", "<*>", "⁻¹'", "⁻¹",
        "''", "``(", "`(", "`[", "?_", "∘'", "×ˢ", "+ᵥ", "-ᵥ", "•",
    ],
    key=len,
    reverse=True,
)

# Code between comments and strings, token by token (one regex match per token): numbers, name literals,
# identifiers, `#` commands, symbols. Never sees a comment, string or char literal (`_skim` found them).
_CODE_TOKEN_RE = re.compile(
    r"\s*(?:"
    rf"(?P<num>{_NUM_SRC})"
    rf"|(?P<name>``?(?=[{_ID_FIRST}«]){_IDENT_SRC})"
    rf"|(?P<id>{_IDENT_SRC})"
    r"|(?P<hash>#[A-Za-z_][A-Za-z0-9_!?]*)"
    "|(?P<sym>" + "|".join(re.escape(s) for s in _SYMBOLS) + r"|.)"
    r"|(?P<eof>$))",
    re.S,
)


def _code_run(stops: str) -> str:
    """A run of code holding no comment, string or char literal (nor a character of ``stops``), stepped over
    token by token inside the regex engine: identifiers whole (a prime in ``h'`` is never a char literal),
    ``«»`` parts whole (they may hold ``--``), numbers, name literals, and the symbols that contain ``'``,
    ``-`` or ``/`` whole (``⁻¹'``, ``∘'``, ``''``, ``<-``: ``<--`` is ``<-`` then ``-``, as Lean reads it)."""
    return (
        r"(?:\s+"
        rf"|(?!r#*\")[{_ID_FIRST}][{_ID_REST}]*(?:\.{_ID_PART})*"  # `a.r"…"`: `a.r` then a plain string
        rf"|«[^»]*»(?:\.{_ID_PART})*"
        rf"|#(?:{_word_alternation(sorted(HASH_COMMANDS))})(?![A-Za-z0-9_!?])"  # `#where'a'`: `#where`, a char
        r"|(?<![^\n])#[A-Za-z_][A-Za-z0-9_!?]{2,}"
        rf"|{_NUM_SRC}"
        rf"|``?(?=[{_ID_FIRST}«]){_IDENT_SRC}"
        r"|''"
        rf"|'(?!{_CHR_BODY})"
        r"|-(?!-)|/(?!-)|<-?|⁻¹'|∘'"
        rf"|[^-/\"'\s{_ID_FIRST}0-9«`⁻∘<#{stops}]+"
        r"|[`«⁻∘#])*+"
    )


_DIGITS_RE = re.compile(r"[0-9]+")
_COMMENT_EDGE_RE = re.compile(r"/-|-/")
_STRING_BODY_RE = re.compile(r'(?:[^"\\]|\\.)*"', re.S)
_INTERP_BODY_RE = re.compile(r'(?:[^"\\{]|\\.)*["{]', re.S)


class Token(NamedTuple):
    """One lexeme of the source: ``text`` is ``source[start:end]``; ``line`` 1-based, ``column`` in code points."""

    kind: str
    text: str
    start: int
    end: int
    line: int
    column: int

    @property
    def is_code(self) -> bool:
        return self.kind not in (COMMENT, DOC)

    @property
    def parts(self) -> tuple[str, ...]:
        """The components of an identifier (or name literal) with ``«»`` removed: ``a.«b c»`` → ``("a", "b c")``."""
        return ident_parts(self.text.lstrip("`"))

    def is_word(self, *words: str) -> bool:
        """An identifier spelled exactly as one of ``words`` (so a keyword; ``«theorem»`` is not one)."""
        return self.kind == IDENT and self.text in words


_new_token = tuple.__new__


def ident_parts(text: str) -> tuple[str, ...]:
    """``a.«b c».d`` → ``("a", "b c", "d")``."""
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in _ID_PART_RE.finditer(text))


def written_parts(text: str) -> tuple[str, ...]:
    """``a.«b c».d`` → ``("a", "«b c»", "d")``: the components as written."""
    return tuple(m.group() for m in _ID_PART_RE.finditer(text))


@dataclass(frozen=True, slots=True)
class Problem:
    """Something Lean would reject while reading the text (unterminated comment or string)."""

    offset: int
    line: int
    column: int
    message: str


class _Lines:
    """Line and column of offsets asked for in increasing order (a count since the last one, no search)."""

    __slots__ = ("text", "line", "line_start", "last")

    def __init__(self, text: str, offset: int = 0, line: int = 1, line_start: int = 0):
        self.text, self.line, self.line_start, self.last = text, line, line_start, offset

    def at(self, offset: int) -> tuple[int, int]:
        last = self.last
        if offset >= last:
            nl = self.text.count("\n", last, offset)
            if nl:
                self.line += nl
                self.line_start = self.text.rfind("\n", last, offset) + 1
            self.last = offset
            return self.line, offset - self.line_start
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1)


def _lex_code(text: str, i: int, stop: int, lines: _Lines, out: list[Token], limit: int = -1) -> None:
    """Append the tokens of the code ``text[i:stop]`` (no comment, string or char literal in it) to ``out``
    (at most ``limit`` of them)."""
    match, new, count, rfind, append = _CODE_TOKEN_RE.match, _new_token, text.count, text.rfind, out.append
    kinds = _CODE_KINDS
    line, line_start, last = lines.line, lines.line_start, lines.last  # `_Lines.at`, inlined (the hot loop)
    if i < last:
        line, col = lines.at(i)
        line_start, last = i - col, i
    prev_end, prev_text = -1, ""
    while limit:
        m = match(text, i, stop)
        kind = m.lastgroup  # type: ignore[union-attr]
        if kind == "eof":
            break
        i, j = m.start(kind), m.end()  # type: ignore[union-attr,arg-type]
        k = kinds[kind]  # type: ignore[index]
        if kind == "num":
            if prev_end == i and prev_text == ".":  # a field index `x.2.1`: digits only
                j = _DIGITS_RE.match(text, i).end()  # type: ignore[union-attr]
        elif kind == "hash":  # one token for a known `#` command (or any `#word` at the start of a line)
            word = text[i + 1 : j]
            if not (word in HASH_COMMANDS or (len(word) > 2 and (i == 0 or text[i - 1] == "\n"))):
                j = i + 1
        nl = count("\n", last, i)
        if nl:
            line += nl
            line_start = rfind("\n", last, i) + 1
        last = i
        s = text[i:j]
        append(new(Token, (k, s, i, j, line, i - line_start)))
        prev_end, prev_text = j, s
        i = j
        limit -= 1
    lines.line, lines.line_start, lines.last = line, line_start, last


_CODE_KINDS = {"id": IDENT, "sym": SYMBOL, "num": NUMBER, "name": NAME, "hash": SYMBOL}


# Where Lean reads a string literal as an interpolated string (`interpolatedStr(term)`, whose `{…}` hold terms
# that may contain strings): right after these words (`s!`, `m!`, `f!` and the macros of Lean core, Batteries
# and Aesop declared `(interpolatedStr(term) <|> term)`, which try the interpolated form first) ...
_INTERP_WORDS = frozenset(
    {"s!", "m!", "f!", "throwError", "println!", "dbg_trace", "dbgTrace!", "reportIssue!", "throwPRError"}
)
# ... after these words and N max-precedence terms (`throwErrorAt stx "…"`, `throwNamedErrorAt ref name "…"`) ...
_INTERP_AFTER_TERMS = {
    "throwErrorAt": 1, "throwNamedError": 1, "throwNamedErrorAt": 2, "logNamedError": 1, "logNamedErrorAt": 2,
    "logNamedWarning": 1, "logNamedWarningAt": 2,
}
# ... and after `trace[cls]`, `aesop_trace[opt]`, `aesop_trace![opt]` (`WORD[` is one token in Lean).
_INTERP_TRACES = frozenset({"trace", "aesop_trace", "aesop_trace!"})
_INTERP_HINT = re.compile(r"!|throw|trace|dbg|Named|reportIssue")  # none of these before `"`: a plain string
_TERM_KINDS = frozenset({IDENT, NUMBER, NAME, CHAR})


def _interpolation_at(code: list[Token], i: int) -> bool:
    """A string literal starting at offset ``i`` right after the code tokens ``code`` is an interpolated
    string. (``code`` is what is written since the previous line's start or the last comment / string.)

    ``logInfo "{x}"`` is not one: `logInfo` is a function and its braces are plain characters."""
    if not code:
        return False
    p = code[-1]
    if p.kind == IDENT and (p.text in _INTERP_WORDS or (p.end == i and p.text[-1] == "!")):  # also `sql!"…"`
        return True
    k = len(code) - 1
    if p.text == "]" and p.kind == SYMBOL:
        o = _open_of(code, k)
        before = code[o - 1] if o > 0 else None
        if before is not None and code[o].text == "[" and before.end == code[o].start and before.text in _INTERP_TRACES:
            return True
    for n_terms in (1, 2):
        k = _term_start(code, k)
        if k <= 0:
            return False
        w = code[k - 1]
        if w.kind == IDENT and _INTERP_AFTER_TERMS.get(w.text) == n_terms:
            return True
        k -= 1
    return False


def _open_of(code: Sequence[Token], k: int) -> int:
    """Index of the bracket that the closing bracket ``code[k]`` closes (-1 if there is none)."""
    depth = 0
    for x in range(k, -1, -1):
        t = code[x]
        if t.kind != SYMBOL:
            continue
        if t.text in _CLOSE_BRACKETS:
            depth += 1
        elif t.text in _OPEN_BRACKETS:
            depth -= 1
            if depth == 0:
                return x
    return -1


def _term_start(code: Sequence[Token], k: int) -> int:
    """Index of the first token of the max-precedence term ending at ``code[k]`` (``x``, ``(f a)``, ``stx[0]``,
    ``(e).1``), or -1 when ``code[k]`` ends none."""
    while True:
        t = code[k]
        if t.kind == SYMBOL and t.text in _CLOSE_BRACKETS:
            k = _open_of(code, k)
            if k < 0:
                return -1
        elif t.kind not in _TERM_KINDS:
            return -1
        if k > 0 and code[k - 1].end == code[k].start:
            if code[k].text == "[":  # `stx[0]`
                k -= 1
                continue
            if code[k - 1].text == "." and k > 1 and code[k - 2].end == code[k - 1].start:  # `(e).1`
                k -= 2
                continue
        return k


class _Skim:
    """The comments, doc comments, strings (interpolated ones cut into pieces) and char literals of a text,
    in order, with the problems Lean's reader would report. Code is stepped over by `_SKIM_RE`."""

    def __init__(self, text: str):
        self.text = text
        self.regions: list[Token] = []
        self.problems: list[Problem] = []
        self.interpolated = False
        self._lines = _Lines(text)
        self._last_end = 0
        self.run(0, braces=False)

    def add(self, kind: str, a: int, b: int) -> None:
        line, col = self._lines.at(a)
        self.regions.append(_new_token(Token, (kind, self.text[a:b], a, b, line, col)))
        self._last_end = b

    def problem(self, offset: int, message: str) -> None:
        line = self.text.count("\n", 0, offset) + 1
        self.problems.append(Problem(offset, line, offset - (self.text.rfind("\n", 0, offset) + 1), message))

    def run(self, i: int, *, braces: bool) -> int:
        """Skim from ``i``; inside an interpolation (``braces``) stop at the ``}`` that closes it."""
        text, n = self.text, len(self.text)
        match = (_SKIM_BRACES_RE if braces else _SKIM_RE).match
        depth = 0
        while True:
            m = match(text, i)
            kind = m.lastgroup  # type: ignore[union-attr]
            a = m.start(kind)  # type: ignore[union-attr,arg-type]
            if kind == "eof":
                return n
            if (kind == "raw" or kind == "chr") and a > i and text[a - 1].isalnum():
                glued = self._glued(i, a)  # after a number: `x.1.5e3'a'` is `x . 1 . 5 e3'a'`
                if glued > a:
                    i = glued
                    continue
            if kind == "lc" or kind == "chr":
                j = m.end()  # type: ignore[union-attr]
                self.add(COMMENT if kind == "lc" else CHAR, a, j)
            elif kind == "bc":
                j = self._block_comment(a)
            elif kind == "str":
                j = self._interpolated(a) if self._interpolation_here(a) else self._string(a)
            elif kind == "raw":
                hashes = m.end() - a - 2  # type: ignore[union-attr]
                close = text.find('"' + "#" * hashes, m.end())  # type: ignore[union-attr]
                if close < 0:
                    self.problem(a, "unterminated raw string literal")
                    j = n
                else:
                    j = close + 1 + hashes
                self.add(STRING, a, j)
            elif kind == "open":
                depth += 1
                j = a + 1
            else:  # "close"
                if depth == 0:
                    return a  # the caller reads the string piece that starts here
                depth -= 1
                j = a + 1
            i = j

    def _block_comment(self, i: int) -> int:
        text = self.text
        doc = text.startswith(("/--", "/-!"), i)
        k = i + 3 if doc else i + 2
        depth = 1
        while depth:
            m = _COMMENT_EDGE_RE.search(text, k)
            if m is None:
                self.problem(i, "unterminated comment")
                k = len(text)
                break
            depth += 1 if m.group() == "/-" else -1
            k = m.end()
        self.add(DOC if doc else COMMENT, i, k)
        return k

    def _string(self, i: int) -> int:
        m = _STRING_BODY_RE.match(self.text, i + 1)
        if m is None:
            self.problem(i, "unterminated string literal")
            j = len(self.text)
        else:
            j = m.end()
        self.add(STRING, i, j)
        return j

    def _glued(self, i: int, a: int) -> int:
        """``a`` follows a number the skim stepped over from ``i`` (a token boundary): the end of the
        identifier that holds ``a`` when the exact token cut puts ``a`` inside one (``a`` itself if not)."""
        text = self.text
        ws = _SPACE_RE.search(text, a)
        toks: list[Token] = []
        _lex_code(text, i, ws.start() if ws else len(text), _Lines(text, i, 0, i), toks)
        for t in toks:
            if t.start < a < t.end:
                return t.end
            if t.start >= a:
                break
        return a

    def _interpolation_here(self, i: int) -> bool:
        """Decided on the code tokens from the start of the previous line (or the last comment / string)."""
        text = self.text
        w = text.rfind("\n", 0, i)
        w = text.rfind("\n", 0, w) + 1 if w > 0 else 0
        w = max(w, self._last_end)
        if _INTERP_HINT.search(text, w, i) is None:
            return False
        code: list[Token] = []
        _lex_code(text, w, i, _Lines(text, w, 0, w), code)
        return _interpolation_at(code, i)

    def _interpolated(self, i: int) -> int:
        """``s!"a{x}b"``: string pieces ``"a{`` and ``}b"``; the code between them is skimmed as code."""
        self.interpolated = True
        start, n = i, len(self.text)
        while True:
            m = _INTERP_BODY_RE.match(self.text, start + 1)
            if m is None:
                self.problem(i, "unterminated string literal")
                self.add(STRING, start, n)
                return n
            self.add(STRING, start, m.end())
            if m.group().endswith('"'):
                return m.end()
            start = self.run(m.end(), braces=True)
            if start >= n:
                self.problem(i, "unterminated string interpolation")
                return n


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` in order, comments and doc comments included (see `Token.is_code`)."""
    return Source(text).tokens


# ---------------------------------------------------------------------------------------------------
# Masking


_NON_NEWLINE = re.compile(r"[^\n]")


def mask(text: str, *, comments: bool = True, strings: bool = True, tokens: Sequence[Token] | None = None) -> str:
    """``text`` with comments (and doc comments) blanked and the contents of string / char literals blanked
    (their delimiters kept), newlines kept: same length, same lines and columns."""
    out: list[str] = []
    done = 0
    for t in tokens if tokens is not None else _Skim(text).regions:
        if t.kind in (COMMENT, DOC):
            if not comments:
                continue
            a, b = t.start, t.end
        elif t.kind in (STRING, CHAR):
            if not strings:
                continue
            a, b = t.start + 1, t.end - 1
            if t.kind == STRING and t.text.startswith("r"):  # r##"…"##
                a = t.text.index('"') + 1 + t.start
                close = '"' + "#" * (a - t.start - 2)
                b = t.end - len(close) if t.text.endswith(close) and t.end - len(close) >= a else t.end
            elif not (len(t.text) >= 2 and t.text[-1] in "\"'{"):  # unterminated: blank to its end
                b = t.end
        else:
            continue
        if b > a:
            out.append(text[done:a])
            s = text[a:b]
            out.append(_NON_NEWLINE.sub(" ", s) if "\n" in s else " " * len(s))
            done = b
    out.append(text[done:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Vocabulary

DECL_KINDS = frozenset(
    {
        "theorem", "lemma", "def", "abbrev", "instance", "structure", "class", "inductive", "coinductive",
        "opaque", "axiom", "example", "irreducible_def", "alias",
    }
)
MODIFIERS = frozenset(
    {"private", "protected", "public", "noncomputable", "nonrec", "partial", "unsafe", "meta", "scoped", "local"}
)
# Keywords that start a command (Lean core, Batteries, Aesop, Mathlib); `module` only in the header (older
# files name instances `module`). `#` commands: `HASH_COMMANDS`.
COMMAND_KEYWORDS = DECL_KINDS | frozenset(
    {
        "namespace", "section", "end", "open", "export", "variable", "variables", "universe", "set_option",
        "attribute", "mutual", "notation", "notation3", "infix", "infixl", "infixr", "prefix", "postfix",
        "macro", "macro_rules", "syntax", "elab", "elab_rules", "declare_syntax_cat", "initialize",
        "builtin_initialize", "import", "prelude", "omit", "include", "deriving", "run_cmd",
        "run_elab", "run_meta", "add_decl_doc", "register_simp_attr", "register_option",
        "register_builtin_option", "declare_simp_like_tactic", "simproc", "simproc_decl", "dsimproc",
        "dsimproc_decl", "builtin_simproc", "builtin_simproc_decl", "builtin_dsimproc", "unif_hint", "seal",
        "unseal", "grind_pattern", "init_quot", "binder_predicate", "declare_config_elab",
        "gen_injective_theorems%", "compile_inductive%", "compile_def%", "library_note", "assert_not_exists",
        "assert_exists", "assert_no_sorry", "initialize_simps_projections", "initialize_simps_projections?",
        "suppress_compilation", "unsuppress_compilation", "mk_iff_of_inductive_prop", "whatsnew",
        "count_heartbeats", "proof_wanted", "register_label_attr", "declare_aesop_rule_sets",
        "erase_aesop_rules", "add_aesop_rules", "register_hint", "extend_docs", "sudo", "recall",
        "with_weak_namespace", "guard_decl", "irreducible_def", "lemma", "scoped", "local", "recommended_spelling",
        "register_aesop_check_option", "syntax_cat", "declare_command_config_elab", "termination_hint",
        "snip",  # compfiles' `snip begin` / `snip end`
    }
)
# `#` commands (one token each); another `#word` is one token only at the start of a line (`#s` is notation)
HASH_COMMANDS = frozenset(
    [
        "align", "align_import", "noalign", "guard_msgs", "guard", "guard_expr", "eval", "eval!", "print", "check",
        "check_failure", "reduce", "exit", "synth", "help", "find", "find_home", "lint", "where", "simp", "norm_num",
        "conv", "whnf", "instances", "list_linters", "adaptation_note", "long_names", "long_instances", "explode",
        "count_heartbeats", "time", "aesop_rules", "aesop_stats", "show_unused", "demo", "sample", "check_simp",
        "check_tactic", "testInEmptyEnv", "push_neg", "version", "widget", "html", "min_imports", "redundant_imports",
        "import_path", "parse", "discr_tree_key", "leansearch", "loogle", "moogle", "kernel_check", "unfold?", "simp?",
        "exact?", "norm_cast",
    ]
)

# Command keywords that also exist inside proofs as `open … in tac` / `set_option … in tac`.
_DUAL_USE = frozenset({"open", "set_option"})
# Keywords never seen inside brackets outside quotations (`(lemma := foo)` is an argument of irreducible_def)
_HARD_KEYWORDS = frozenset(
    {
        "theorem", "example", "axiom", "namespace", "section", "end", "mutual", "import", "opaque", "inductive",
        "structure", "universe", "variable", "notation", "macro_rules", "syntax", "elab_rules", "initialize",
        "run_cmd", "abbrev", "def",
    }
)
_OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "⦃": "⦄", "⟨": "⟩", "⟦": "⟧", "⁅": "⁆", "‹": "›", "%[": "]",
                  "#[": "]", "@[": "]", "`(": ")", "``(": ")", "`[": "]", "$(": ")"}
_CLOSE_BRACKETS = frozenset(v for v in _OPEN_BRACKETS.values() if v)
_QUOTATIONS = frozenset({"`(", "``(", "`["})


_START_WORDS = COMMAND_KEYWORDS | MODIFIERS | _HARD_KEYWORDS


def is_command_start(tok: Token) -> bool:
    """A token that can only begin a command (or be a parse error): a command keyword, ``@[``, ``#word``,
    or a doc comment."""
    if tok.kind == IDENT:
        return tok.text in COMMAND_KEYWORDS or tok.text in MODIFIERS
    if tok.kind == SYMBOL:
        return tok.text == "@[" or (tok.text.startswith("#") and len(tok.text) > 1 and tok.text[1].isalpha())
    return tok.kind == DOC


def _word_alternation(words: Sequence[str]) -> str:
    """A regex matching exactly ``words``, as a trie (one branch per letter, not one per word)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


_SPECIALS = r"(?P<lc>--[^\n]*)|(?P<bc>/-)|(?P<str>\")|(?P<raw>r#*\")|(?P<chr>'" + _CHR_BODY + ")"
_SKIM_RE = re.compile(_code_run("") + f"(?:{_SPECIALS}|(?P<eof>\\Z))", re.S)
_SKIM_BRACES_RE = re.compile(_code_run("{}") + f"(?:{_SPECIALS}|(?P<open>\\{{)|(?P<close>\\}})|(?P<eof>\\Z))", re.S)


# Read on `Source._skel` (the masked text, escaped identifiers and interpolation braces blanked too). A word
# counts where an identifier token of exactly that text starts: not inside an identifier, not after `.` (a
# field: `(x).end`) unless the `.` belongs to `..` / `|>.`, not continued by `.name`. A letter that cannot end
# a number rules a word out at once; after a digit, a hex letter, `!`, `?`, `'` or a subscript the code is cut
# into tokens to know (`2end`, `0x1Fend`, `⁻¹'theorem`, `'a'end`, `₁end` are a keyword; `x2end`, `h'end` not).
_HIT_BEFORE = f"(?:(?<![G-Zg-z_{_LETTERLIKE}.`])|(?<=\\.\\.)|(?<=\\|>\\.))"
_AFTER_WORD = f"(?![{_ID_REST}])(?!\\.[{_ID_FIRST}«])"
_CHECK_BEFORE_RE = re.compile(f"[0-9a-fA-F!?'{_SUBSCRIPT}]")


def _hit_re(words: frozenset[str]) -> re.Pattern[str]:
    # the lookahead on the first characters first: most positions fail there, before any lookbehind (2x faster)
    first = re.escape("".join(sorted({w[0] for w in words} | {"#"})))
    return re.compile(
        f"(?=[{first}])(?:{_HIT_BEFORE}(?P<kw>{_word_alternation(sorted(words))}){_AFTER_WORD}"
        r"|(?P<hash>#[A-Za-z_][A-Za-z0-9_!?]*))"
    )


_HIT_RE = _hit_re(_START_WORDS)
# compfiles' ProblemExtraction.lean (compfiles 2f9ff30) declares `declModifiers "problem " declId declSig declVal`
# (elaborated as a `theorem`), `declModifiers "determine " declId optDeclSig declVal` (as an `abbrev`) and
# `"problem_file " (term)?` as commands: keywords only in files that import it (every problem file does).
_COMPFILES_KINDS = {"problem": "theorem", "determine": "abbrev"}
_COMPFILES_MODULE = "ProblemExtraction"
_HIT_RE_COMPFILES = _hit_re(_START_WORDS | frozenset(_COMPFILES_KINDS) | {"problem_file"})
_BRACKET_RE = re.compile(r"@\[|%\[|#\[|``?\(|`\[|\$\(|[([{⦃⟨⟦⁅‹)\]}⦄⟩⟧⁆›]")
_OPEN_CHARS = "([{⦃⟨⟦⁅‹"
_CLOSE_CHARS = ")]}⦄⟩⟧⁆›"
_OPEN_CLASS, _CLOSE_CLASS = re.escape(_OPEN_CHARS), re.escape(_CLOSE_CHARS)
_IN_RE = re.compile(f"(?<![{_ID_REST}.`])in{_AFTER_WORD}")
_NON_SPACE_RE = re.compile(r"\S")
_SPACE_RE = re.compile(r"\s")
_PRIORITY_RE = re.compile(rf"\(\s*priority{_AFTER_WORD}")


# ---------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    public: bool = False
    meta: bool = False
    all: bool = False
    runtime: bool = False
    start: int = 0  # offset of the first keyword of the import


@dataclass(frozen=True, slots=True)
class Header:
    """``module``? ``prelude``? then imports (``public``? ``meta``? ``import`` ``all``? NAME)."""

    is_module: bool = False
    prelude: bool = False
    imports: tuple[Import, ...] = ()
    end: int = 0  # offset just after the header's last token (0: no header)

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(i.module for i in self.imports)


@dataclass(frozen=True, slots=True)
class Command:
    """One top-level command: the code from ``code_start`` (its first code token) to ``end``.

    ``kind`` is the word that decides what it is (``theorem``, ``namespace``, ``open``, ``#eval``, ``@[``…
    when nothing follows the attributes). ``in_prefix``: it ends in ``in`` and applies to the next command.
    ``first`` / ``last``: its first and last code tokens as indices of `Source.code`.
    """

    kind: str
    start: int  # offset of the first token (a doc comment included)
    end: int  # offset just after the last token
    in_prefix: bool = False
    code_start: int = 0  # offset of the first code token
    _source: Any = field(default=None, repr=False, compare=False)
    _keyword: int = field(default=-1, repr=False, compare=False)  # offset of the word that decided ``kind``

    @property
    def first(self) -> int:
        return self._source._code_index(self.code_start)

    @property
    def last(self) -> int:
        return self._source._code_index(self.end) - 1

    @property
    def tokens(self) -> list[Token]:
        """Its code tokens (cut from the text on demand, without cutting the whole file)."""
        return self._source.code_between(self.code_start, self.end)


@dataclass(frozen=True, slots=True)
class Declaration:
    """A declaration command (``example`` included). Offsets index the source text."""

    kind: str  # theorem | lemma | def | abbrev | instance | structure | class | class inductive | inductive | ...
    name: str | None  # as written (``_root_.x``, ``«a b»``); None for ``example`` and anonymous instances
    full_name: str | None  # resolved through the enclosing namespaces and ``_root_``
    namespace: str  # the namespace it was written in
    modifiers: tuple[str, ...]
    attributes: tuple[str, ...]  # each attribute's text, whitespace collapsed (``simp``, ``to_additive foo``)
    doc: str | None  # the doc comment's text, delimiters included
    start: int  # first token of the command: doc comment, attribute, modifier or keyword
    head: int  # first modifier, else the keyword (where the statement text starts)
    keyword: int  # the kind keyword
    name_span: tuple[int, int] | None
    statement_end: int  # just after the last token before the delimiter
    delimiter: str  # ":=" | "where" | "|" | "" (no body)
    delimiter_span: tuple[int, int] | None  # offsets of the delimiter token
    proof: tuple[int, int] | None  # after ``:=`` (or from ``where`` / ``|``) to the end of the command
    end: int  # just after the command's last token
    line: int  # of ``head``, 1-based
    column: int  # of ``head``, code points
    end_line: int  # of the last token
    opens: tuple[str, ...] = ()  # namespaces open where it was written (``open … in`` included)
    in_mutual: bool = False
    outer_start: int = 0  # start of the ``open … in`` / ``set_option … in`` prefixes (``start`` if none)
    code_start: int = 0  # offset of the command's first code token
    _source: Any = field(default=None, repr=False, compare=False)

    @property
    def tokens(self) -> tuple[int, int]:
        """Its code token range [first, last] in `Source.code`."""
        src = self._source
        return src._code_index(self.code_start), src._code_index(self.end) - 1

    @property
    def is_theorem(self) -> bool:
        return self.kind in ("theorem", "lemma")

    @property
    def private(self) -> bool:
        return "private" in self.modifiers

    @property
    def protected(self) -> bool:
        return "protected" in self.modifiers

    @property
    def statement(self) -> tuple[int, int]:
        """From the keyword to the delimiter (``theorem t (x : ℕ) : x = x``)."""
        return self.keyword, self.statement_end


@dataclass(frozen=True, slots=True)
class SetOption:
    name: str
    value: str
    start: int  # offset of `set_option`
    scope: str  # "command" | "in" (prefix of the next command) | "proof" (inside a declaration)


@dataclass(frozen=True, slots=True)
class Open:
    names: tuple[str, ...]
    start: int
    scoped_to_next: bool  # `open X in` before a command


@dataclass(slots=True)
class _Scope:
    kind: str  # namespace | section | mutual
    name: str  # one namespace component, or a section's name
    opens: list[str] = field(default_factory=list)


class _Item(NamedTuple):
    """A command keyword, a `#` command or an ``@[`` in the text (``close``: offset after the ``]`` of an ``@[``)."""

    start: int
    end: int
    text: str
    kind: str  # "kw" | "hash" | "@["
    close: int = -1


class Source:
    """A scanned Lean file (or fragment). Everything is computed once, on first use."""

    def __init__(self, text: str):
        self.text = text
        sk = _Skim(text)
        self._regions = sk.regions
        self._interpolated = sk.interpolated
        self.problems: list[Problem] = sk.problems

    # -- tokens ------------------------------------------------------------------------------------

    @cached_property
    def tokens(self) -> list[Token]:
        """Every token, comments and doc comments included."""
        text = self.text
        out: list[Token] = []
        lines = _Lines(text)
        i = 0
        for r in self._regions:
            if r.start > i:
                _lex_code(text, i, r.start, lines, out)
            out.append(r)
            i = r.end
        if i < len(text):
            _lex_code(text, i, len(text), lines, out)
        return out

    @cached_property
    def code(self) -> list[Token]:
        """The tokens that are not comments."""
        return [t for t in self.tokens if t.kind is not COMMENT and t.kind is not DOC]

    def code_between(self, a: int, b: int) -> list[Token]:
        """The code tokens that start in ``[a, b)`` (``a`` a token start), cut from the text on demand."""
        if "code" in self.__dict__:
            code = self.code
            return code[bisect_left(self._code_starts, a) : bisect_left(self._code_starts, b)]
        return list(self._iter_code(a, b))

    def _iter_code(self, a: int, b: int, limit: int = -1) -> Iterator[Token]:
        """Code tokens from offset ``a`` (a token start, or whitespace before one) to ``b``, at most ``limit``."""
        text, regions, starts = self.text, self._regions, self._region_starts
        r = bisect_left(starts, a)
        if r > 0 and regions[r - 1].end > a:  # `a` inside a region: start at that region
            r -= 1
            a = regions[r].start
        line, col = self.line_col(a)
        lines = _Lines(text, a, line, a - col)
        i, n = a, 0
        while i < b and n != limit:
            stop = regions[r].start if r < len(regions) else len(text)
            if i < stop:
                buf: list[Token] = []
                _lex_code(text, i, min(stop, b), lines, buf, -1 if limit < 0 else limit - n)
                for t in buf:
                    yield t
                n += len(buf)
                i = stop
                continue
            t = regions[r]
            r += 1
            i = t.end
            if t.kind is not COMMENT and t.kind is not DOC:
                yield t
                n += 1

    def _code_after(self, pos: int, count: int) -> list[Token]:
        return list(self._iter_code(pos, len(self.text), count))

    def _code_index(self, offset: int) -> int:
        """Index in `code` of the first code token starting at or after ``offset``."""
        return bisect_left(self._code_starts, offset)

    @cached_property
    def _code_starts(self) -> list[int]:
        return [t.start for t in self.code]

    @cached_property
    def _region_starts(self) -> list[int]:
        return [t.start for t in self._regions]

    # -- derived views -------------------------------------------------------------------------

    @cached_property
    def masked(self) -> str:
        return mask(self.text, tokens=self._regions)

    @cached_property
    def uncommented(self) -> str:
        return mask(self.text, strings=False, tokens=self._regions)

    @cached_property
    def _skel(self) -> str:
        """`masked` with what must not be read as code blanked too: the braces of interpolated strings, the
        contents of unterminated strings, the ``#`` of raw strings (``r#"…"#eval`` has no ``#eval``), ``«»``
        identifiers (``\\x01``: not a letter, not a space)."""
        masked, text = self.masked, self.text
        if not self._interpolated and not self.problems and "«" not in text and 'r#"' not in text:
            return masked
        chars = list(masked)
        for t in self._regions:
            if t.kind is STRING and (
                t.text[:1] == "}" or t.text[-1:] == "{" or not t.text.endswith('"') or t.text.startswith("r#")
            ):
                for k in range(t.start, t.end):
                    if chars[k] != "\n":
                        chars[k] = '"'
        out = "".join(chars)
        if "«" in text:
            out = re.sub("«[^»]*»", lambda m: "\x01" * len(m.group()), out)
        return out

    @cached_property
    def header(self) -> Header:
        text = self.text
        cut = len(text)
        skel = self._skel
        for m in _HIT_RE.finditer(skel):
            a = m.start()
            if m.group() in ("import", "prelude", "public", "meta"):
                continue
            if m.lastgroup == "kw" and a > 0 and _CHECK_BEFORE_RE.match(skel, a - 1) and not self._token_starts_at(a):
                continue  # inside an identifier (`import α!example`)
            cut = a
            break
        return _parse_header(self.code_between(0, cut))

    @cached_property
    def commands(self) -> list[Command]:
        return _split_commands(self)

    @cached_property
    def declarations(self) -> list[Declaration]:
        return self._scopes[0]

    @cached_property
    def namespaces(self) -> list[str]:
        """Namespaces opened by ``namespace`` commands, in order (full names, nesting resolved)."""
        return self._scopes[1]

    @cached_property
    def scoped_commands(self) -> list[tuple[Command, str, tuple[str, ...]]]:
        """``attribute`` and ``export`` commands with the namespace and opens in force where they are written
        (names in them resolve from there)."""
        return self._scopes[2]

    @cached_property
    def set_options(self) -> list[SetOption]:
        """Every ``set_option NAME VALUE`` in the text, wherever it is (commands, prefixes, proofs)."""
        out: list[SetOption] = []
        firsts = {c.code_start: c for c in self.commands}
        for it in self._items:
            if it.text != "set_option" or it.kind != "kw":
                continue
            nxt = self._code_after(it.end, 2)
            name = ".".join(nxt[0].parts) if nxt and nxt[0].kind == IDENT else ""
            value = nxt[1].text if len(nxt) > 1 else ""
            c = firsts.get(it.start)
            scope = ("in" if c.in_prefix else "command") if c is not None else "proof"
            out.append(SetOption(name, value, it.start, scope))
        return out

    @cached_property
    def opens(self) -> list[Open]:
        """``open`` commands (not those inside proofs), in order."""
        return [Open(tuple(_open_names(c.tokens[1:])), c.start, c.in_prefix) for c in self.commands if c.kind == "open"]

    def line_col(self, offset: int) -> tuple[int, int]:
        """(1-based line, code-point column) of an offset."""
        starts = self._line_starts
        i = bisect_right(starts, offset) - 1
        return i + 1, offset - starts[i]

    @cached_property
    def _line_starts(self) -> list[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.text)]

    @cached_property
    def _items(self) -> list[_Item]:
        """Command keywords and ``#`` commands after the header (where a token of that text starts)."""
        skel, text = self._skel, self.text
        out: list[_Item] = []
        hits = _HIT_RE_COMPFILES if _COMPFILES_MODULE in self.header.modules else _HIT_RE
        for m in hits.finditer(skel, self.header.end):
            a = m.start()
            if m.lastgroup == "hash":
                word = m.group()[1:]
                if word in HASH_COMMANDS or (len(word) > 2 and (a == 0 or text[a - 1] == "\n")):
                    out.append(_Item(a, m.end(), m.group(), "hash"))
                    continue
                m = hits.match(skel, a + 1)  # `#` alone, then maybe a command word (`#axiom`)
                if m is None or m.lastgroup != "kw":
                    continue
                a = a + 1
            elif a > 0 and _CHECK_BEFORE_RE.match(skel, a - 1) and not self._token_starts_at(a):
                continue
            out.append(_Item(a, m.end(), m.group(), "kw"))
        return out

    def _token_starts_at(self, a: int) -> bool:
        """A token starts at ``a`` (a word glued to what is before it): cut the code from a sure token
        boundary (whitespace outside comments, strings and ``«»``, or the end of the last of those)."""
        skel = self._skel
        r = a
        while r > 0 and not skel[r - 1].isspace():
            r -= 1
        k = bisect_left(self._region_starts, a) - 1
        if k >= 0 and self._regions[k].end > r:
            r = self._regions[k].end
        toks: list[Token] = []
        _lex_code(self.text, r, a + 1, _Lines(self.text, r, 0, r), toks)
        return any(t.start == a for t in toks)

    def _doc_before(self, a: int) -> Token | None:
        """The ``/--`` doc comment right before the code token at ``a`` (only comments between)."""
        regions, text = self._regions, self.text
        r = bisect_left(self._region_starts, a) - 1
        cur = a
        while r >= 0:
            t = regions[r]
            if text[t.end : cur].strip():
                return None
            if t.kind is DOC:
                return t if t.text.startswith("/--") else None
            if t.kind is not COMMENT:
                return None
            cur = t.start
            r -= 1
        return None

    def _code_end(self, a: int, b: int) -> int:
        """Offset just after the last code token in ``[a, b)`` (``a`` itself when there is none)."""
        e = a + len(self._skel[a:b].rstrip())
        r = bisect_right(self._region_starts, e - 1) - 1  # an unterminated string runs to the end of the text
        if r >= 0 and self._regions[r].end > e and self._regions[r].kind in (STRING, CHAR):
            e = self._regions[r].end
        return e

    def _last_line(self, e: int) -> int:
        """Line of the last code token that ends at ``e``."""
        r = bisect_right(self._region_starts, e - 1) - 1
        if r >= 0 and self._regions[r].end >= e:
            return self._regions[r].line
        return self.line_col(e - 1)[0]

    def _close_of(self, a: int, b: int) -> int:
        """Offset just after the bracket that closes the one opening at ``a`` (``b`` if none before it)."""
        depth = 0
        for m in _BRACKET_RE.finditer(self._skel, a, b):
            if m.group()[-1] in _OPEN_CHARS:
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return m.end()
        return b

    @cached_property
    def _scopes(self) -> tuple[list[Declaration], list[str], list[tuple[Command, str, tuple[str, ...]]]]:
        return _declarations(self)


def scan(text: str) -> Source:
    return Source(text)


# ---------------------------------------------------------------------------------------------------
# Header


def _parse_header(code: Sequence[Token]) -> Header:
    i, n = 0, len(code)
    is_module = prelude = False
    end = 0
    if i < n and code[i].is_word("module"):
        is_module, end, i = True, code[i].end, i + 1
    if i < n and code[i].is_word("prelude"):
        prelude, end, i = True, code[i].end, i + 1
    imports: list[Import] = []
    while i < n:
        j = i
        public = meta = False
        if j < n and code[j].is_word("public"):
            public, j = True, j + 1
        if j < n and code[j].is_word("meta"):
            meta, j = True, j + 1
        if not (j < n and code[j].is_word("import")):
            break
        start = code[i].start
        j += 1
        all_ = runtime = False
        if j < n and code[j].is_word("all"):
            all_, j = True, j + 1
        if j < n and code[j].is_word("runtime"):
            runtime, j = True, j + 1
        if j < n and code[j].kind == IDENT and not code[j].is_word("import", "public", "meta"):
            imports.append(Import(".".join(code[j].parts), public, meta, all_, runtime, start))
            end, j = code[j].end, j + 1
            # old files sometimes list several modules after one `import` on the same line
            while j < n and code[j].kind == IDENT and code[j].line == code[j - 1].line and not (
                is_command_start(code[j]) or code[j].is_word("public", "meta")
            ):
                imports.append(Import(".".join(code[j].parts), public, meta, all_, runtime, start))
                end, j = code[j].end, j + 1
        else:
            end = code[j - 1].end
        i = j
    return Header(is_module, prelude, tuple(imports), end)


# ---------------------------------------------------------------------------------------------------
# Commands


def _split_commands(src: Source) -> list[Command]:
    """Cut the code after the header into commands (see the module docstring): one pass over the command
    keywords and the brackets of `Source._skel`, keeping the stack of open brackets."""
    skel, text = src._skel, src.text
    h_end = src.header.end
    items = src._items
    n_items = len(items)
    starts: list[int] = []  # offsets of the first code token of each command
    stack: list[str] = []  # open brackets ("@[" and "attr" for `attribute [`)
    head = False  # in a command's head (attributes, modifiers, `class`): the next keyword belongs to it
    last_end = h_end  # end of the last keyword or bracket handled
    last_word = ""  # that keyword, if it was one
    closes: dict[int, int] = {}  # `@[` → offset after its `]`
    at_open: list[int] = []  # offsets of the `@[` on the stack
    ii = 0

    def plain_between(a: int, b: int) -> bool:  # a token that is neither a keyword nor a bracket
        return b > a and _NON_SPACE_RE.search(skel, a, b) is not None

    def keyword(it: _Item) -> None:
        nonlocal head, last_end, last_word
        if head and plain_between(last_end, it.start):
            head = False
        last_end, last_word = it.end, it.text if it.kind == "kw" else ""
        w = it.text
        if stack:
            if (
                w in _HARD_KEYWORDS
                and it.kind == "kw"
                and not any(x in _QUOTATIONS or x in ("@[", "attr") for x in stack)
            ):
                # a declaration keyword cannot be inside brackets: Lean's parser stopped before it (an error in
                # the text) and its error recovery starts a command here; so do we
                stack.clear()
                at_open.clear()
                starts.append(it.start)
                head = False
            return
        if _starts_command(it, ii + 1 < n_items and items[ii + 1] or None, skel, text):
            if not head:
                starts.append(it.start)
            head = it.kind == "kw" and (w in MODIFIERS or w in ("class", "deriving", "snip"))
        else:
            head = False

    for m in _BRACKET_RE.finditer(skel, h_end):
        b = m.start()
        while ii < n_items and items[ii].start < b:
            keyword(items[ii])
            ii += 1
        if head and plain_between(last_end, b):
            head = False
        s = m.group()
        if s in _CLOSE_CHARS:
            if stack:
                top = stack.pop()
                if top == "@[":
                    closes[at_open.pop()] = b + 1
                head = top == "@[" and not stack and s == "]"
        elif s == "@[":
            if not stack and not head:
                starts.append(b)
            stack.append(s)
            at_open.append(b)
        elif s == "[" and last_word in ("attribute", "scoped") and not plain_between(last_end, b):
            stack.append("attr")
        else:
            stack.append(s)
        last_end, last_word = m.end(), ""
    while ii < n_items:
        keyword(items[ii])
        ii += 1

    # the text between the header and the first command keyword, if any, is a command of its own
    first = _NON_SPACE_RE.search(skel, h_end)
    if first is not None and (not starts or first.start() < starts[0]):
        starts.insert(0, first.start())
    bounds = [(a, starts[j + 1] if j + 1 < len(starts) else len(text)) for j, a in enumerate(starts)]
    merged: list[tuple[int, int]] = []
    for a, b in bounds:
        if merged and _continues_previous(src, a, b):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))

    by_start = {it.start: k for k, it in enumerate(items)}
    out: list[Command] = []
    for a, b in merged:
        e = src._code_end(a, b)
        kind, kw = _command_kind(src, a, e, items, by_start, closes)
        in_prefix = kind not in DECL_KINDS and kind not in _COMPFILES_KINDS and _ends_in_in(skel, a, e)
        d = src._doc_before(a)
        out.append(Command(kind, d.start if d is not None else a, e, in_prefix, a, src, kw))
    return out


def _starts_command(it: _Item, nxt: _Item | None, skel: str, text: str) -> bool:
    """``it`` (a keyword or ``#`` command outside brackets) starts a command; ``nxt`` is the item after it."""
    w = it.text
    if it.kind == "hash":
        if w == "#adaptation_note":  # also a tactic and a term: a command only at the start of a line
            return it.start == 0 or text[it.start - 1] == "\n"
        return True
    adjacent = nxt is not None and nxt.kind == "kw" and _NON_SPACE_RE.search(skel, it.end, nxt.start) is None
    if w in MODIFIERS:
        # `open scoped Foo`, `open private x in`: a modifier starts a command only before a keyword
        if adjacent:
            return True
        if w == "scoped":
            m = _NON_SPACE_RE.search(skel, it.end)
            return m is not None and skel[m.start()] == "["
        return False
    if w == "deriving":
        return adjacent and nxt.text == "instance"  # type: ignore[union-attr]
    return True


def _continues_previous(src: Source, a: int, b: int) -> bool:
    """``open X in tac`` / ``set_option o v in tac`` inside a proof: the `in` is followed by no command."""
    skel = src._skel
    m = _HIT_RE.match(skel, a)
    if m is None or m.group() not in _DUAL_USE:
        return False
    e = src._code_end(a, b)
    k = _IN_RE.search(skel, m.end(), e)
    return k is not None and _NON_SPACE_RE.search(skel, k.end(), e) is not None


def _ends_in_in(skel: str, a: int, e: int) -> bool:
    return e - a >= 2 and _IN_RE.match(skel, e - 2, e) is not None


def _command_kind(
    src: Source, a: int, e: int, items: list[_Item], by_start: dict[int, int], closes: dict[int, int]
) -> tuple[str, int]:
    """The word that decides what the command at ``a`` is (after its attributes and modifiers), and where."""
    skel = src._skel
    pos = a
    k = by_start.get(a)
    if k is None and skel.startswith("@[", a):
        k = -1
    while pos < e:
        if skel.startswith("@[", pos):
            close = closes.get(pos, e)
            nxt = _NON_SPACE_RE.search(skel, close, e)
            if nxt is None:
                break
            pos = nxt.start()
            k = by_start.get(pos)
            continue
        if k is None or k < 0 or items[k].start != pos:
            break
        it = items[k]
        if it.kind == "hash":
            return it.text, it.start
        w = it.text
        if w in MODIFIERS:
            nxt = _NON_SPACE_RE.search(skel, it.end, e)
            if nxt is None:
                break
            pos = nxt.start()
            k = by_start.get(pos)
            continue
        if w == "class":
            nk = k + 1
            nxt = items[nk] if nk < len(items) else None
            if nxt is not None and nxt.text == "inductive" and _NON_SPACE_RE.search(skel, it.end, nxt.start) is None:
                return "class inductive", it.start
        if w in COMMAND_KEYWORDS or w in _COMPFILES_KINDS or w == "problem_file":
            return w, it.start
        break
    if skel.startswith("@[", a):
        return "@[", -1
    k = by_start.get(a)
    if k is not None:
        return items[k].text, -1
    toks = src._code_after(a, 1)
    return (toks[0].text if toks and toks[0].kind in (IDENT, SYMBOL) else "?"), -1


# ---------------------------------------------------------------------------------------------------
# Declarations and scopes


def _open_names(toks: Sequence[Token]) -> list[str]:
    """Namespaces opened by ``open …`` (``scoped`` opens no names; names after ``hiding``/``renaming`` and
    inside parentheses are not namespaces)."""
    out: list[str] = []
    depth = 0
    for t in toks:
        if t.is_word("in"):
            break
        if t.kind == SYMBOL and t.text in ("(", "["):
            depth += 1
        elif t.kind == SYMBOL and t.text in (")", "]"):
            depth -= 1
        elif depth == 0 and t.is_word("hiding", "renaming"):
            break
        elif depth == 0 and t.is_word("scoped"):
            return []
        elif depth == 0 and t.kind == IDENT and not t.is_word("private"):
            out.append(t.text)
    return out


def _scope_names(src: Source, c: Command) -> list[str]:
    """``namespace A.B`` / ``section A.B`` / ``end A.B`` → ``["A", "B"]`` (Lean's addScopes: two scopes)."""
    if c._keyword < 0:
        return []
    kw = src._code_after(c._keyword, 2)
    if len(kw) == 2 and kw[1].kind == IDENT and kw[1].start < c.end and kw[1].line == kw[0].line:
        return list(written_parts(kw[1].text))
    return []


def _declarations(src: Source) -> tuple[list[Declaration], list[str], list[tuple[Command, str, tuple[str, ...]]]]:
    stack: list[_Scope] = []
    root_opens: list[str] = []
    temp_opens: list[str] = []
    out: list[Declaration] = []
    namespaces: list[str] = []
    scoped: list[tuple[Command, str, tuple[str, ...]]] = []

    def namespace() -> str:
        return ".".join(s.name for s in stack if s.kind == "namespace")

    def current_opens() -> list[str]:
        o = list(root_opens)
        for s in stack:
            o.extend(s.opens)
        return o

    prefix_start: int | None = None
    for c in src.commands:
        kind = c.kind
        if c.in_prefix and prefix_start is None:
            prefix_start = c.start
        if kind == "namespace":
            for part in _scope_names(src, c):
                stack.append(_Scope("namespace", part))
            namespaces.append(namespace())
        elif kind == "section":
            for part in _scope_names(src, c) or [""]:
                stack.append(_Scope("section", part))
        elif kind == "mutual":
            stack.append(_Scope("mutual", ""))
        elif kind == "end":
            _end_scope(stack, _scope_names(src, c))
        elif kind == "open":
            names = _open_names(c.tokens[1:])
            if c.in_prefix:
                temp_opens.extend(names)
            elif stack:
                stack[-1].opens.extend(names)
            else:
                root_opens.extend(names)
        elif kind in DECL_KINDS or kind == "class inductive" or kind in _COMPFILES_KINDS:
            in_mutual = any(s.kind == "mutual" for s in stack)
            outer = prefix_start if prefix_start is not None else c.start
            out.extend(_declaration(src, c, namespace(), tuple(current_opens() + temp_opens), in_mutual, outer))
        elif kind in ("attribute", "export"):
            scoped.append((c, namespace(), tuple(current_opens() + temp_opens)))
        if not c.in_prefix:
            temp_opens = []
            prefix_start = None
    return out, namespaces, scoped


def _end_scope(stack: list[_Scope], names: list[str]) -> None:
    if not stack:
        return
    if not names:
        stack.pop()
        return
    # `end A.B` closes the scopes `namespace A.B` opened; `end B` after `namespace A.B` closes only B
    for _ in names:
        if stack:
            stack.pop()


def _skip_brackets(code: Sequence[Token], k: int, last: int) -> int:
    """``code[k]`` opens a bracket: the index after its matching close."""
    depth = 0
    while k <= last:
        t = code[k]
        if t.kind == SYMBOL and t.text in _OPEN_BRACKETS and _OPEN_BRACKETS[t.text] is not None:
            depth += 1
        elif t.kind == SYMBOL and t.text in _CLOSE_BRACKETS:
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    return k


def attribute_texts(tokens: Sequence[Token]) -> list[str]:
    """The attributes of ``@[ … ]`` / ``attribute [ … ]`` from the code tokens between the brackets:
    each one's tokens joined by a space (``simp``, ``to_additive (attr := simp) foo``)."""
    out: list[str] = []
    cur: list[Token] = []
    depth = 0
    for t in tokens:
        if t.kind == SYMBOL and t.text in _OPEN_BRACKETS:
            depth += 1
        elif t.kind == SYMBOL and t.text in _CLOSE_BRACKETS:
            depth -= 1
        if depth == 0 and t.kind == SYMBOL and t.text == ",":
            if cur:
                out.append(" ".join(x.text for x in cur))
            cur = []
            continue
        cur.append(t)
    if cur:
        out.append(" ".join(x.text for x in cur))
    return out


def _declaration(
    src: Source, c: Command, ns: str, opens: tuple[str, ...], in_mutual: bool, outer_start: int
) -> list[Declaration]:
    skel = src._skel
    e = c.end
    attrs: list[str] = []
    mods: list[str] = []
    head: int | None = None
    # the head: `@[…]` groups and modifiers up to the keyword (`_command_kind` found the keyword at `_keyword`)
    pos = c.code_start
    while pos < c._keyword:
        if skel.startswith("@[", pos):
            close = src._close_of(pos, e)
            attrs.extend(attribute_texts(src.code_between(pos + 2, close - 1)))
            pos = close
        else:
            w = _IDENT_RE.match(src.text, pos)
            assert w is not None and w.group() in MODIFIERS
            mods.append(w.group())
            head = pos if head is None else head
            pos = w.end()
        nxt = _NON_SPACE_RE.search(skel, pos, e)
        pos = nxt.start() if nxt is not None else e
    kw = c._keyword
    word = "class" if c.kind == "class inductive" else _IDENT_RE.match(src.text, kw).group()  # type: ignore[union-attr]
    kind = "class inductive" if c.kind == "class inductive" else _COMPFILES_KINDS.get(word, word)
    head = kw if head is None else head
    k = kw + len(word)
    if kind == "class inductive":
        k = _NON_SPACE_RE.search(skel, k).start() + len("inductive")  # type: ignore[union-attr]
    if kind == "instance":
        p = _NON_SPACE_RE.search(skel, k, e)
        if p is not None and _PRIORITY_RE.match(skel, p.start()):
            k = src._close_of(p.start(), e)
    doc_tok = src._doc_before(c.code_start) if c.start != c.code_start else None
    line, col = src.line_col(head)
    common: dict[str, Any] = dict(
        namespace=ns,
        modifiers=tuple(mods),
        attributes=tuple(attrs),
        doc=doc_tok.text if doc_tok else None,
        start=c.start,
        head=head,
        keyword=kw,
        end=e,
        line=line,
        column=col,
        end_line=src._last_line(e),
        opens=opens,
        in_mutual=in_mutual,
        outer_start=outer_start,
        code_start=c.code_start,
        _source=src,
    )
    if kind == "alias":
        return _aliases(src.code_between(k, e), kind, common)
    name_tok = None
    if kind != "example":
        after = src._code_after(k, 3)
        if after and after[0].start < e and after[0].kind == IDENT and not after[0].is_word("where", "extends"):
            name_tok = after[0]
            k = name_tok.end
            # universe parameters `.{u, v}` right after the name
            if len(after) == 3 and after[1].text == "." and after[1].start == k and after[2].text == "{":
                k = src._close_of(after[2].start, e)
    delim, d_start, d_end = _statement_end(src, k, e, kind)
    statement_end = src._code_end(kw, d_start) if delim is not None else e
    if delim == ":=":
        body = _NON_SPACE_RE.search(skel, d_end, e)
        proof = (body.start(), e) if body is not None else None
    else:
        proof = (d_start, e) if delim is not None else None
    name = name_tok.text if name_tok else None
    return [
        Declaration(
            kind=kind,
            name=name,
            full_name=_full_name(ns, name) if name else None,
            name_span=(name_tok.start, name_tok.end) if name_tok else None,
            statement_end=statement_end,
            delimiter=delim or "",
            delimiter_span=(d_start, d_end) if delim else None,
            proof=proof,
            **common,
        )
    ]


def _aliases(code: Sequence[Token], kind: str, common: dict[str, Any]) -> list[Declaration]:
    """``alias a := t`` and ``alias ⟨a, b⟩ := t_iff`` (``_`` skipped)."""
    eq = next((j for j in range(len(code)) if code[j].text == ":="), None)
    if eq is None:
        return []
    names = [t for t in code[:eq] if t.kind == IDENT and t.text != "_"]
    proof = (code[eq + 1].start, common["end"]) if eq + 1 < len(code) else None
    out = []
    for t in names:
        out.append(
            Declaration(
                kind=kind,
                name=t.text,
                full_name=_full_name(common["namespace"], t.text),
                name_span=(t.start, t.end),
                statement_end=code[eq - 1].end if eq > 0 else common["keyword"] + len(kind),
                delimiter=":=",
                delimiter_span=(code[eq].start, code[eq].end),
                proof=proof,
                **common,
            )
        )
    return out


# Term binders that take a `:=` of their own: in a declaration's type, the `:=` of `let x := v; body` is
# the `let`'s (Lean's `let`, `have`, … parsers), not the declaration's.
_TERM_BINDERS = frozenset({"let", "have", "haveI", "letI", "let_fun", "let_delayed", "let_tmp"})
# Tactics with a `:=` of their own; they count only after a `by` in the type (a tactic block inside a `let`).
_TACTIC_BINDERS = frozenset({"obtain", "set", "replace"})
_INDUCTIVE_KINDS = frozenset({"inductive", "class inductive", "coinductive"})
_DERIVING_KINDS = frozenset({"structure", "inductive", "class", "class inductive"})
_STATEMENT_WORDS = _TERM_BINDERS | _TACTIC_BINDERS | {"match", "fun", "by", "where", "deriving"}
# The tokens a statement's end depends on, read on `Source._skel`: a bracket group with no bracket inside
# (one step), brackets, `:=`, `|`, `=>`, `←`, `λ` (not inside a longer symbol: `::=`, `||`, `|>`, `<|>`,
# `<=>`, `<->`) and the words above.
_STATEMENT_FIRST = re.escape("".join(sorted({w[0] for w in _STATEMENT_WORDS} | set(":|=←<λ"))))
_STATEMENT_RE = re.compile(
    rf"(?=[{_OPEN_CLASS}{_CLOSE_CLASS}{_STATEMENT_FIRST}])"  # most positions fail here, before any lookbehind
    rf"(?:(?P<flat>[{_OPEN_CLASS}][^{_OPEN_CLASS}{_CLOSE_CLASS}]*[{_CLOSE_CLASS}])"
    rf"|(?P<open>[{_OPEN_CLASS}])|(?P<close>[{_CLOSE_CLASS}])"
    r"|(?P<assign>(?<!:):=)|(?P<bar>(?<![<|])\|(?![|>]))|(?P<arrow>(?<![<>=!:])=>)|(?P<larrow>←|<-(?!>))"
    r"|(?P<lam>λ)"
    rf"|{_HIT_BEFORE}(?P<word>{_word_alternation(sorted(_STATEMENT_WORDS))}){_AFTER_WORD})"
)
_BAR_NEXT_RE = re.compile(r"\s*\|(?![|>])")


def _statement_end(src: Source, k: int, e: int, kind: str) -> tuple[str | None, int, int]:
    """(delimiter, its start, its end) of the statement that starts at offset ``k`` (after the name); delimiter
    None when the statement runs to ``e``, ``""`` for ``deriving``.

    Read the way Lean's parser reads a declaration: the type is a term, and it ends at the first token outside
    brackets that cannot continue it: a ``:=`` that no ``let`` / ``have`` (or, after a ``by``, ``obtain`` /
    ``set`` / ``replace``) in the type is waiting for, ``where``, ``deriving`` (structures and inductives), or a
    ``|`` that starts an equation -- the first token of its line, followed by a ``=>`` before any ``:=``
    (``|x| ≤ 1 := …`` is an absolute value; patterns may span lines), for an ``inductive`` any ``|``. After
    ``match`` or ``fun |`` in the type, a ``|`` is an alternative of that term; a ``let f : A → B`` may take
    alternatives instead of ``:=``. Not followed: ``calc`` steps and ``do`` reassignments (``x := v``) in a type.
    """
    skel = src._skel
    depth = 0
    pending = 0  # binders of the type still waiting for their `:=`
    alts = tactics = False  # `|` belongs to a `match` / `fun` of the type; a `by` block is open in the type
    inductive = kind in _INDUCTIVE_KINDS
    for m in _STATEMENT_RE.finditer(skel, k, e):
        g = m.lastgroup
        if g == "flat":
            continue
        if g == "open":
            depth += 1
            continue
        if g == "close":
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        j = m.start()
        if g == "word":
            if _CHECK_BEFORE_RE.match(skel, j - 1) and not src._token_starts_at(j):
                continue  # inside an identifier (`h2have`)
            s = m.group()
            if s in _TERM_BINDERS or (tactics and s in _TACTIC_BINDERS):
                pending += 1
            elif s == "match":
                alts = True
            elif s == "fun":
                alts = alts or _BAR_NEXT_RE.match(skel, m.end(), e) is not None
            elif s == "by":
                tactics = True
            elif s == "where":
                return "where", j, m.end()
            elif s == "deriving" and kind in _DERIVING_KINDS:
                return "", j, j
        elif g == "assign":
            if not pending:
                return ":=", j, m.end()
            pending -= 1
        elif g == "lam":
            alts = alts or _BAR_NEXT_RE.match(skel, m.end(), e) is not None
        elif g == "larrow":
            if pending:  # `let x ← e` (in a `do` block)
                pending -= 1
        elif g == "bar":
            if inductive and not (pending or alts):
                return "|", j, m.end()
            if _first_on_line(skel, k, j) and _starts_alternative(src, m.end(), e):
                if pending:  # `let f : ℕ → ℕ` then `| 0 => …`
                    pending -= 1
                    alts = True
                elif not alts:
                    return "|", j, m.end()
    return None, e, e


def _first_on_line(skel: str, k: int, j: int) -> bool:
    """No code before offset ``j`` on its line, or none between the statement's start ``k`` and ``j``."""
    return _NON_SPACE_RE.search(skel, k, j) is None or _NON_SPACE_RE.search(skel, skel.rfind("\n", 0, j) + 1, j) is None


def _starts_alternative(src: Source, a: int, e: int) -> bool:
    """The ``|`` before ``a`` starts a match alternative (``| pat, pat => rhs``, patterns may span lines): a
    ``=>`` follows outside brackets before any ``:=``, ``fun`` or ``match`` (``|a| ≤ |b| := …`` is a value)."""
    skel = src._skel
    depth = 0
    for m in _STATEMENT_RE.finditer(skel, a, e):
        g = m.lastgroup
        if g == "flat":
            continue
        if g == "open":
            depth += 1
        elif g == "close":
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif g == "arrow":
            return True
        elif g in ("assign", "lam"):
            return False
        elif g == "word" and m.group() in ("fun", "match"):
            j = m.start()
            if not (_CHECK_BEFORE_RE.match(skel, j - 1) and not src._token_starts_at(j)):
                return False
    return False


def _full_name(ns: str, name: str) -> str:
    if name.startswith("_root_."):
        return name[len("_root_.") :]
    return f"{ns}.{name}" if ns else name


# ---------------------------------------------------------------------------------------------------
# Conveniences used across the project


def code_tokens(text: str) -> list[Token]:
    """The code tokens of ``text`` (no comments, no doc comments)."""
    return Source(text).code


def token_texts(text: str) -> tuple[str, ...]:
    """The code of ``text`` as a token sequence: the form in which statements are compared (whitespace and
    comments do not matter, a space between two identifiers does)."""
    return tuple(t.text for t in Source(text).code)


def split_header(text: str) -> tuple[str, str, int]:
    """``(header, body, lines_in_header)`` with ``header + body == text``. The header is the ``module`` /
    ``prelude`` / ``import`` lines (with comments around them), up to the end of the last import's line."""
    src = scan(text)
    h = src.header
    if h.end == 0:
        return "", text, 0
    nl = text.find("\n", h.end)
    cut = len(text) if nl < 0 else nl + 1
    rest = mask(text[h.end : cut], tokens=None)
    if rest.strip():  # code after the last import on its line: cut right after the import
        cut = h.end
    header = text[:cut]
    return header, text[cut:], header.count("\n")
