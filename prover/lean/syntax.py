"""The one reader of Lean 4 source in the project: tokens, masked text, header, commands, declarations.

Everything that looks at Lean text without Lean (the soundness gate, the premise corpus, the benchmark and
theorem loaders) reads it through this module, so they agree on what is code and what is not.

The lexer follows Lean's own token functions (``Lean.Parser.Basic``: ``whitespace``, ``tokenFn``,
``identFn``, ``strLitFnAux``, ``charLitFnAux``, ``finishCommentBlock``):

* comments: ``--`` to the end of the line; ``/- -/`` nested; doc comments ``/-- -/`` and module docs
  ``/-! -/`` (also nested) are tokens of their own (`DOC`), never code;
* strings with escapes, raw strings ``r"…"`` / ``r#"…"#`` (any number of ``#``), interpolated strings
  after ``s!`` / ``m!`` / ``f!`` (any identifier ending in ``!``) whose ``{…}`` parts are code;
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
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

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
_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"(?P<lc>--[^\n]*)"
    r"|(?P<bc>/-)"
    r'|(?P<str>")'
    r'|(?P<raw>r#*")'
    r"|(?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    rf"|(?P<name>``?(?=[{_ID_FIRST}«]){_IDENT_SRC})"
    r"|(?P<chr>'(?!')(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.))')"
    rf"|(?P<id>{_IDENT_SRC})"
    r"|(?P<hash>#[A-Za-z_][A-Za-z0-9_!?]*)"
    "|(?P<sym>" + "|".join(re.escape(s) for s in _SYMBOLS) + r"|.)"
    r"|(?P<eof>$))",
    re.S,
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


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[Token] = []
        self.code: list[Token] = []  # the tokens that are not comments
        self.problems: list[Problem] = []
        self._line, self._line_start, self._last = 1, 0, 0  # position of the last token start

    def pos(self, offset: int) -> tuple[int, int]:
        """Line and column of ``offset`` (offsets are asked for in increasing order)."""
        text, last = self.text, self._last
        if offset >= last:
            nl = text.count("\n", last, offset)
            if nl:
                self._line += nl
                self._line_start = text.rfind("\n", last, offset) + 1
            self._last = offset
            return self._line, offset - self._line_start
        line = text.count("\n", 0, offset) + 1
        return line, offset - (text.rfind("\n", 0, offset) + 1)

    def add(self, kind: str, a: int, b: int) -> None:
        line, col = self.pos(a)
        tok = _new_token(Token, (kind, self.text[a:b], a, b, line, col))
        self.tokens.append(tok)
        if kind is not COMMENT and kind is not DOC:
            self.code.append(tok)

    def problem(self, offset: int, message: str) -> None:
        line = self.text.count("\n", 0, offset) + 1
        self.problems.append(Problem(offset, line, offset - (self.text.rfind("\n", 0, offset) + 1), message))

    def run(self, i: int = 0, *, in_braces: bool = False) -> int:
        """Lex from ``i``; inside an interpolation (``in_braces``) stop at the ``}`` closing it."""
        text, n = self.text, len(self.text)
        tokens, code = self.tokens, self.code
        depth = 0
        match, count, rfind, new = _TOKEN_RE.match, text.count, text.rfind, _new_token
        while i < n:
            m = match(text, i)
            assert m is not None  # `.` or end of input always matches
            kind = m.lastgroup
            i, j = m.start(kind), m.end()  # type: ignore[arg-type]
            if kind == "id":  # the hot path: `add` inlined
                last = self._last
                nl = count("\n", last, i)
                if nl:
                    self._line += nl
                    self._line_start = rfind("\n", last, i) + 1
                self._last = i
                tok = new(Token, (IDENT, text[i:j], i, j, self._line, i - self._line_start))
                tokens.append(tok)
                code.append(tok)
            elif kind == "sym":
                s = m.group(kind)  # type: ignore[arg-type]
                if in_braces and s == "{":
                    depth += 1
                elif in_braces and s == "}":
                    if depth == 0:
                        return i  # the caller lexes the string piece that starts here
                    depth -= 1
                last = self._last
                nl = count("\n", last, i)
                if nl:
                    self._line += nl
                    self._line_start = rfind("\n", last, i) + 1
                self._last = i
                tok = new(Token, (SYMBOL, s, i, j, self._line, i - self._line_start))
                tokens.append(tok)
                code.append(tok)
            elif kind == "eof":
                return n
            elif kind == "lc":
                self.add(COMMENT, i, j)
            elif kind == "bc":
                j = self._block_comment(i)
            elif kind == "str":
                j = self._interpolated(i) if _interpolation_at(code, i) else self._string(i)
            elif kind == "raw":
                hashes = j - i - 2
                close = text.find('"' + "#" * hashes, j)
                if close < 0:
                    self.problem(i, "unterminated raw string literal")
                    j = n
                else:
                    j = close + 1 + hashes
                self.add(STRING, i, j)
            elif kind == "num":
                prev = tokens[-1] if tokens else None
                if prev is not None and prev.end == i and prev.text == ".":  # a field index `x.2.1`: digits only
                    j = _DIGITS_RE.match(text, i).end()  # type: ignore[union-attr]
                self.add(NUMBER, i, j)
            elif kind == "name":
                self.add(NAME, i, j)
            elif kind == "chr":
                self.add(CHAR, i, j)
            else:  # "#word": one token for a known `#` command (or any `#word` at the start of a line)
                word = m.group(kind)[1:]  # type: ignore[arg-type]
                if word in HASH_COMMANDS or (len(word) > 2 and (i == 0 or text[i - 1] == "\n")):
                    self.add(SYMBOL, i, j)
                else:
                    j = i + 1
                    self.add(SYMBOL, i, j)
            i = j
        return i

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

    def _interpolated(self, i: int) -> int:
        """``s!"a{x}b"``: string pieces ``"a{`` and ``}b"`` with the code between them lexed as code."""
        start = i
        while True:
            m = _INTERP_BODY_RE.match(self.text, start + 1)
            if m is None:
                self.problem(i, "unterminated string literal")
                self.add(STRING, start, len(self.text))
                return len(self.text)
            self.add(STRING, start, m.end())
            if m.group().endswith('"'):
                return m.end()
            start = self.run(m.end(), in_braces=True)
            if start >= len(self.text):
                self.problem(i, "unterminated string interpolation")
                return start


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
_TERM_KINDS = frozenset({IDENT, NUMBER, NAME, CHAR})
_BACK_LIMIT = 256  # tokens looked back over for a bracketed argument


def _interpolation_at(code: list[Token], i: int) -> bool:
    """A string literal starting at offset ``i`` (after the code tokens ``code``) is an interpolated string.

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
    """Index of the bracket that the closing bracket ``code[k]`` closes (-1 if not found close by)."""
    depth = 0
    for x in range(k, max(-1, k - _BACK_LIMIT), -1):
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


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` in order, comments and doc comments included (see `Token.is_code`)."""
    lx = _Lexer(text)
    lx.run()
    return lx.tokens


# ---------------------------------------------------------------------------------------------------
# Masking


_NON_NEWLINE = re.compile(r"[^\n]")


def mask(text: str, *, comments: bool = True, strings: bool = True, tokens: Sequence[Token] | None = None) -> str:
    """``text`` with comments (and doc comments) blanked and the contents of string / char literals blanked
    (their delimiters kept), newlines kept: same length, same lines and columns."""
    out: list[str] = []
    done = 0
    for t in tokens if tokens is not None else tokenize(text):
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
            out.append(_NON_NEWLINE.sub(" ", text[a:b]))
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
    """One top-level command: code tokens ``first..last`` (inclusive) of `Source.code`.

    ``kind`` is the word that decides what it is (``theorem``, ``namespace``, ``open``, ``#eval``, ``@[``…
    when nothing follows the attributes). ``in_prefix``: it ends in ``in`` and applies to the next command.
    """

    kind: str
    first: int
    last: int
    start: int  # offset of the first token (a doc comment included)
    end: int  # offset just after the last token
    in_prefix: bool = False


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
    tokens: tuple[int, int] = (0, 0)  # code token range [first, last] in `Source.code`
    in_mutual: bool = False
    outer_start: int = 0  # start of the ``open … in`` / ``set_option … in`` prefixes (``start`` if none)

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


class Source:
    """A scanned Lean file (or fragment). Everything is computed once, on first use."""

    def __init__(self, text: str):
        self.text = text
        lx = _Lexer(text)
        lx.run()
        self.tokens: list[Token] = lx.tokens
        self.problems: list[Problem] = lx.problems
        self.code: list[Token] = lx.code

    # -- derived views -------------------------------------------------------------------------

    @cached_property
    def masked(self) -> str:
        return mask(self.text, tokens=self.tokens)

    @cached_property
    def uncommented(self) -> str:
        return mask(self.text, strings=False, tokens=self.tokens)

    @cached_property
    def header(self) -> Header:
        return _parse_header(self.code)

    @cached_property
    def commands(self) -> list[Command]:
        return _split_commands(self.code, self.header, self.tokens)

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
        code = self.code
        owner: list[Command | None] = [None] * len(code)
        for c in self.commands:
            for k in range(c.first, c.last + 1):
                owner[k] = c
        for i, t in enumerate(code):
            if not t.is_word("set_option"):
                continue
            name = ".".join(code[i + 1].parts) if i + 1 < len(code) and code[i + 1].kind == IDENT else ""
            value = code[i + 2].text if i + 2 < len(code) else ""
            c = owner[i]
            scope = ("in" if c.in_prefix else "command") if c is not None and c.first == i else "proof"
            out.append(SetOption(name, value, t.start, scope))
        return out

    @cached_property
    def opens(self) -> list[Open]:
        """``open`` commands (not those inside proofs), in order."""
        return [
            Open(tuple(_open_names(self.code[c.first + 1 : c.last + 1])), c.start, c.in_prefix)
            for c in self.commands
            if c.kind == "open"
        ]

    def line_col(self, offset: int) -> tuple[int, int]:
        """(1-based line, code-point column) of an offset."""
        starts = self._line_starts
        i = bisect_right(starts, offset) - 1
        return i + 1, offset - starts[i]

    @cached_property
    def _line_starts(self) -> list[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.text)]

    @cached_property
    def _docs(self) -> dict[int, Token]:
        return {t.start: t for t in self.tokens if t.kind == DOC}

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


def _header_token_count(code: Sequence[Token], header: Header) -> int:
    k = 0
    while k < len(code) and code[k].end <= header.end:
        k += 1
    return k


def _split_commands(code: Sequence[Token], header: Header, tokens: Sequence[Token]) -> list[Command]:
    """Cut the code tokens after the header into commands (see the module docstring)."""
    n = len(code)
    k0 = _header_token_count(code, header)
    starts: list[int] = []
    stack: list[str] = []  # open brackets ("attr" for the brackets of `@[` and `attribute [`)
    head = False  # in a command's head (attributes, modifiers, `class`): the next keyword belongs to it
    for i in range(k0, n):
        t = code[i]
        s = t.text
        if (t.kind == IDENT and s not in _START_WORDS) or (t.kind != IDENT and t.kind != SYMBOL):
            head = False
            continue
        nxt = code[i + 1] if i + 1 < n else None
        if t.kind == SYMBOL and _OPEN_BRACKETS.get(s):
            attr = s == "@[" or (s == "[" and i > 0 and code[i - 1].is_word("attribute", "scoped"))
            if s == "@[" and not stack and not head:
                starts.append(i)
            stack.append("attr" if attr else s)
            continue
        if t.kind == SYMBOL and s in _CLOSE_BRACKETS:
            if stack:
                top = stack.pop()
                head = top == "attr" and not stack and s == "]" and _opens_head(code, i)
            continue
        if t.kind == IDENT and i > 0 and code[i - 1].end == t.start and code[i - 1].text == ".":
            head = False  # `(x).end`, `.end`: a raw identifier after `.`, never a keyword
            continue
        if stack:
            if _is_hard_keyword(t) and not any(b in _QUOTATIONS or b == "attr" for b in stack):
                # a declaration keyword cannot be inside brackets: Lean's parser stopped before it (an error
                # in the text) and its error recovery starts a command here; so do we
                stack.clear()
                starts.append(i)
                head = False
            continue
        if _starts_command(t, nxt):
            if not head:
                starts.append(i)
            head = t.kind == IDENT and (t.text in MODIFIERS or t.text in ("class", "deriving", "snip"))
        else:
            head = False
    bounds = [(a, (starts[j + 1] - 1) if j + 1 < len(starts) else n - 1) for j, a in enumerate(starts)]
    if k0 < n and (not starts or starts[0] > k0):
        bounds.insert(0, (k0, (starts[0] - 1) if starts else n - 1))
    merged: list[tuple[int, int]] = []
    for a, b in bounds:
        if merged and _continues_previous(code, a, b):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))

    doc_before = _doc_before(tokens)
    out: list[Command] = []
    for a, b in merged:
        kind = _command_kind(code, a, b)
        in_prefix = code[b].is_word("in") and kind not in DECL_KINDS
        d = doc_before.get(code[a].start)
        out.append(Command(kind, a, b, d.start if d is not None else code[a].start, code[b].end, in_prefix))
    return out


def _opens_head(code: Sequence[Token], close: int) -> bool:
    """The ``]`` at ``close`` ends an ``@[…]`` (not ``attribute […]``): a declaration follows."""
    depth = 0
    for k in range(close, -1, -1):
        s = code[k].text
        if code[k].kind != SYMBOL:
            continue
        if s in _CLOSE_BRACKETS:
            depth += 1
        elif _OPEN_BRACKETS.get(s):
            depth -= 1
            if depth == 0:
                return s == "@["
    return False


def _starts_command(t: Token, nxt: Token | None) -> bool:
    if not is_command_start(t):
        return False
    if t.kind == IDENT and t.text in MODIFIERS:
        # `open scoped Foo`, `open private x in`: a modifier starts a command only before a keyword
        return nxt is not None and (
            (nxt.kind == IDENT and (nxt.text in COMMAND_KEYWORDS or nxt.text in MODIFIERS))
            or (t.text == "scoped" and nxt.text == "[")
        )
    if t.is_word("deriving"):
        return nxt is not None and nxt.is_word("instance")
    if t.text == "#adaptation_note":  # also a tactic and a term: a command only at the start of a line
        return t.column == 0
    return True


def _is_hard_keyword(t: Token) -> bool:
    return t.kind == IDENT and t.text in _HARD_KEYWORDS


def _continues_previous(code: Sequence[Token], a: int, b: int) -> bool:
    """``open X in tac`` / ``set_option o v in tac`` inside a proof: the `in` is followed by no command."""
    t = code[a]
    if not (t.kind == IDENT and t.text in _DUAL_USE):
        return False
    for k in range(a + 1, b + 1):
        if code[k].is_word("in"):
            return k < b  # something after `in` that is not a command: a tactic or a term
    return False


def _command_kind(code: Sequence[Token], a: int, b: int) -> str:
    k = a
    while k <= b:
        t = code[k]
        if t.kind == SYMBOL and t.text == "@[":
            depth = 0
            while k <= b:
                if code[k].kind == SYMBOL and code[k].text in _OPEN_BRACKETS:
                    depth += 1
                elif code[k].kind == SYMBOL and code[k].text in _CLOSE_BRACKETS:
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            k += 1
            continue
        if t.kind == IDENT and t.text in MODIFIERS:
            k += 1
            continue
        if t.kind == IDENT and t.text == "class" and k + 1 <= b and code[k + 1].is_word("inductive"):
            return "class inductive"
        if t.kind == IDENT and t.text in COMMAND_KEYWORDS:
            return t.text
        if t.kind == SYMBOL and t.text.startswith("#"):
            return t.text
        break
    first = code[a]
    return first.text if first.kind in (IDENT, SYMBOL) else "?"


def _doc_before(tokens: Sequence[Token]) -> dict[int, Token]:
    """Offset of a code token → the ``/--`` doc comment directly before it (only comments between)."""
    out: dict[int, Token] = {}
    last_doc: Token | None = None
    for t in tokens:
        if t.kind == DOC:
            last_doc = t if t.text.startswith("/--") else None
        elif t.kind != COMMENT:
            if last_doc is not None:
                out[t.start] = last_doc
            last_doc = None
    return out


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


def _scope_names(code: Sequence[Token], c: Command) -> list[str]:
    k = c.first
    while k <= c.last and not code[k].is_word("namespace", "section", "end"):
        k += 1
    if k + 1 <= c.last and code[k + 1].kind == IDENT and code[k + 1].line == code[k].line:
        return list(written_parts(code[k + 1].text))  # `section A.B` opens two scopes too (Lean's addScopes)
    return []


def _declarations(src: Source) -> tuple[list[Declaration], list[str], list[tuple[Command, str, tuple[str, ...]]]]:
    code = src.code
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
            for part in _scope_names(code, c):
                stack.append(_Scope("namespace", part))
            namespaces.append(namespace())
        elif kind == "section":
            for part in _scope_names(code, c) or [""]:
                stack.append(_Scope("section", part))
        elif kind == "mutual":
            stack.append(_Scope("mutual", ""))
        elif kind == "end":
            _end_scope(stack, _scope_names(code, c))
        elif kind == "open":
            names = _open_names(code[c.first + 1 : c.last + 1])
            if c.in_prefix:
                temp_opens.extend(names)
            elif stack:
                stack[-1].opens.extend(names)
            else:
                root_opens.extend(names)
        elif kind in DECL_KINDS or kind == "class inductive":
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


def _attribute_texts(src: Source, a: int, b: int) -> list[str]:
    """The attributes of ``@[ … ]`` spanning code tokens ``a..b`` (``a`` is ``@[``, ``b`` its ``]``)."""
    code = src.code
    out: list[str] = []
    cur: list[Token] = []
    depth = 0
    for t in code[a + 1 : b]:
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
    code = src.code
    k, last = c.first, c.last
    attrs: list[str] = []
    mods: list[str] = []
    head: int | None = None
    while k <= last:
        t = code[k]
        if t.kind == SYMBOL and t.text == "@[":
            e = _skip_brackets(code, k, last)
            attrs.extend(_attribute_texts(src, k, e - 1))
            k = e
            continue
        if t.kind == IDENT and t.text in MODIFIERS:
            mods.append(t.text)
            head = t.start if head is None else head
            k += 1
            continue
        break
    if k > last:
        return []
    kw_tok = code[k]
    kind = kw_tok.text
    head = kw_tok.start if head is None else head
    k += 1
    if kind == "class" and k <= last and code[k].is_word("inductive"):
        kind, k = "class inductive", k + 1
    if kind == "instance" and k <= last and code[k].text == "(" and k + 1 <= last and code[k + 1].is_word("priority"):
        k = _skip_brackets(code, k, last)
    doc_tok = src._docs.get(c.start)
    line, col = src.line_col(head)
    end_line = code[last].line
    common = dict(
        namespace=ns,
        modifiers=tuple(mods),
        attributes=tuple(attrs),
        doc=doc_tok.text if doc_tok else None,
        start=c.start,
        head=head,
        keyword=kw_tok.start,
        end=c.end,
        line=line,
        column=col,
        end_line=end_line,
        opens=opens,
        tokens=(c.first, c.last),
        in_mutual=in_mutual,
        outer_start=outer_start,
    )
    if kind == "alias":
        return _aliases(src, k, last, kind, common)
    name_tok = None
    if kind != "example" and k <= last and code[k].kind == IDENT and not code[k].is_word("where", "extends"):
        name_tok = code[k]
        k += 1
        # universe parameters `.{u, v}` right after the name
        if k + 1 <= last and code[k].text == "." and code[k].start == name_tok.end and code[k + 1].text == "{":
            k = _skip_brackets(code, k + 1, last)
    s_end, delim, p_start = _statement_end(code, k, last, kind)
    statement_end = code[s_end - 1].end if s_end - 1 >= 0 and s_end - 1 >= c.first else kw_tok.end
    proof = (code[p_start].start, c.end) if p_start is not None and p_start <= last else None
    delimiter_span = (code[s_end].start, code[s_end].end) if delim else None
    name = name_tok.text if name_tok else None
    return [
        Declaration(
            kind=kind,
            name=name,
            full_name=_full_name(ns, name) if name else None,
            name_span=(name_tok.start, name_tok.end) if name_tok else None,
            statement_end=statement_end,
            delimiter=delim,
            delimiter_span=delimiter_span,
            proof=proof,
            **common,  # type: ignore[arg-type]
        )
    ]


def _aliases(src: Source, k: int, last: int, kind: str, common: dict) -> list[Declaration]:
    """``alias a := t`` and ``alias ⟨a, b⟩ := t_iff`` (``_`` skipped)."""
    code = src.code
    eq = next((j for j in range(k, last + 1) if code[j].text == ":="), None)
    if eq is None:
        return []
    names = [t for t in code[k:eq] if t.kind == IDENT and t.text != "_"]
    proof = (code[eq + 1].start, common["end"]) if eq + 1 <= last else None
    out = []
    for t in names:
        out.append(
            Declaration(
                kind=kind,
                name=t.text,
                full_name=_full_name(common["namespace"], t.text),
                name_span=(t.start, t.end),
                statement_end=code[eq - 1].end,
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


def _statement_end(code: Sequence[Token], k: int, last: int, kind: str) -> tuple[int, str, int | None]:
    """(index of the first token after the statement, delimiter, index where the body starts).

    Read the way Lean's parser reads a declaration: the type is a term, and it ends at the first token outside
    brackets that cannot continue it: a ``:=`` that no ``let`` / ``have`` (or, after a ``by``, ``obtain`` /
    ``set`` / ``replace``) in the type is waiting for, ``where``, ``deriving`` (structures and inductives), or a
    ``|`` that starts an equation -- the first token of its line, followed by a ``=>`` before any ``:=``
    (``|x| ≤ 1 := …`` is an absolute value; patterns may span lines), for an ``inductive`` any ``|``. After
    ``match`` or ``fun |`` in the type, a ``|`` is an alternative of that term; a ``let f : A → B`` may take
    alternatives instead of ``:=``. Not followed: ``calc`` steps and ``do`` reassignments (``x := v``) in a type.
    """
    depth = 0
    pending = 0  # binders of the type still waiting for their `:=`
    alts = tactics = False  # `|` belongs to a `match` / `fun` of the type; a `by` block is open in the type
    inductive = kind in _INDUCTIVE_KINDS
    opens, closes = _OPEN_BRACKETS, _CLOSE_BRACKETS
    for j in range(k, last + 1):
        t = code[j]
        s = t.text
        if t.kind == IDENT:
            if depth:
                continue
            if s in _TERM_BINDERS or (tactics and s in _TACTIC_BINDERS):
                pending += 1
            elif s == "match":
                alts = True
            elif s == "fun":
                alts = alts or (j < last and code[j + 1].text == "|")
            elif s == "by":
                tactics = True
            elif s == "where":
                return j, "where", j
            elif s == "deriving" and kind in _DERIVING_KINDS:
                return j, "", j
            continue
        if t.kind != SYMBOL:
            continue
        if s in opens and opens[s] is not None:
            depth += 1
        elif s in closes:
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif s == ":=":
            if not pending:
                return j, ":=", j + 1
            pending -= 1
        elif s == "λ":
            alts = alts or (j < last and code[j + 1].text == "|")
        elif s in ("←", "<-") and pending:  # `let x ← e` (in a `do` block)
            pending -= 1
        elif s == "|":
            if inductive and not (pending or alts):
                return j, "|", j
            if (j == k or code[j - 1].line != t.line) and _starts_alternative(code, j, last):
                if pending:  # `let f : ℕ → ℕ` then `| 0 => …`
                    pending -= 1
                    alts = True
                elif not alts:
                    return j, "|", j
    return last + 1, "", None


def _starts_alternative(code: Sequence[Token], j: int, last: int) -> bool:
    """The ``|`` at ``code[j]`` starts a match alternative (``| pat, pat => rhs``, patterns may span lines): a
    ``=>`` follows outside brackets before any ``:=``, ``fun`` or ``match`` (``|a| ≤ |b| := …`` is a value)."""
    depth = 0
    for x in range(j + 1, last + 1):
        t = code[x]
        s = t.text
        if t.kind == IDENT:
            if not depth and s in ("fun", "match"):
                return False
            continue
        if t.kind != SYMBOL:
            continue
        if s in _OPEN_BRACKETS and _OPEN_BRACKETS[s] is not None:
            depth += 1
        elif s in _CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif s == "=>":
            return True
        elif s in (":=", "λ"):
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
    return [t for t in tokenize(text) if t.is_code]


def token_texts(text: str) -> tuple[str, ...]:
    """The code of ``text`` as a token sequence: the form in which statements are compared (whitespace and
    comments do not matter, a space between two identifiers does)."""
    return tuple(t.text for t in tokenize(text) if t.is_code)


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
