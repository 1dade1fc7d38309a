"""A careful line/regex scanner for Lean 4 source files: imports, declarations and their scopes.

It does not elaborate anything. It finds, per file:

* the ``import`` header (module names);
* every named declaration (``theorem``, ``lemma``, ``def``, ``abbrev``, ``instance``, ``structure``, ``class``,
  ``inductive``, ``opaque``, ``axiom``, ``irreducible_def``, and ``alias``) with its full name resolved through
  ``namespace``/``end``, ``_root_``, its modifiers (``private``, ``protected``, ...), its statement text (up to the
  top-level ``:=`` / ``where`` / ``|``), its position, and its body (the proof text, used to find which premises
  a proof names);
* the ``open`` declarations in force at each declaration (scoped by ``section``/``namespace``, and
  ``open ... in``).

Comments (``--``, nested ``/- -/``, doc strings ``/-- -/`` and ``/-! -/``) never count as code; string and char
literals are blanked for the structural scan. Line and column numbers always refer to the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------------
# Comments and literals

_TOK = re.compile(r"/-|--|\"|'")
_STR = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_CHR = re.compile(r"'(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.))'")
_BLK = re.compile(r"/-|-/")
_NONNL = re.compile(r"[^\n]")


def _blank(s: str) -> str:
    return _NONNL.sub(" ", s)


def mask_source(text: str) -> tuple[str, str]:
    """Return ``(masked, uncommented)``, both exactly as long as ``text`` with newlines in place.

    ``uncommented`` has every comment (line, nested block, doc string) replaced by spaces; ``masked`` in addition
    has the contents of string and char literals replaced by spaces, so that brackets, ``:=`` and keywords found
    in it are real code.
    """
    out_m: list[str] = []
    out_c: list[str] = []
    pos, n = 0, len(text)
    while True:
        m = _TOK.search(text, pos)
        if not m:
            out_m.append(text[pos:])
            out_c.append(text[pos:])
            break
        s, tok = m.start(), m.group()
        out_m.append(text[pos:s])
        out_c.append(text[pos:s])
        if tok == "--":
            e = text.find("\n", s)
            e = n if e < 0 else e
            b = _blank(text[s:e])
            out_m.append(b)
            out_c.append(b)
            pos = e
        elif tok == "/-":
            depth, p = 1, s + 2
            while depth:
                mm = _BLK.search(text, p)
                if not mm:
                    p = n
                    break
                depth += 1 if mm.group() == "/-" else -1
                p = mm.end()
            b = _blank(text[s:p])
            out_m.append(b)
            out_c.append(b)
            pos = p
        elif tok == '"':
            mm = _STR.match(text, s)
            e = mm.end() if mm else n
            lit = text[s:e]
            out_m.append('"' + _blank(lit[1:-1]) + '"' if len(lit) >= 2 else _blank(lit))
            out_c.append(lit)
            pos = e
        else:  # "'": a char literal only where it cannot be a prime of an identifier (h', foo'')
            prev = text[s - 1] if s else " "
            mm = None if (prev.isalnum() or prev in "_'!?.") else _CHR.match(text, s)
            if mm:
                lit = mm.group()
                out_m.append("'" + _blank(lit[1:-1]) + "'")
                out_c.append(lit)
                pos = mm.end()
            else:
                out_m.append("'")
                out_c.append("'")
                pos = s + 1
    return "".join(out_m), "".join(out_c)


# ---------------------------------------------------------------------------------------------------
# Identifiers

# Lean's identifier characters, approximately: letters (Greek except λ Π Σ, letter-like symbols), `_`, and after
# the first character digits, subscripts, `'`, `!`, `?`. Python's \w covers the Unicode letters and digits.
_ID_START = r"[^\W\dλΠΣ]"
_ID_REST = r"[\w'!?ₐ-ₜᵢ-ᵪⱼ]"
_ID_PART = rf"(?:{_ID_START}{_ID_REST}*|«[^»\n]*»)"
IDENT = re.compile(rf"(?<![\w'.!?]){_ID_PART}(?:\.{_ID_PART})*")
_NAME_AT = re.compile(rf"{_ID_PART}(?:\.{_ID_PART})*")

MODIFIERS = frozenset({"private", "protected", "noncomputable", "nonrec", "partial", "unsafe", "scoped", "local"})
DECL_KEYWORDS = frozenset(
    {
        "theorem",
        "lemma",
        "def",
        "abbrev",
        "instance",
        "structure",
        "class",
        "inductive",
        "opaque",
        "axiom",
        "irreducible_def",
        "alias",
        "example",
    }
)
# First words of column-0 lines that start a new command. Anything else at column 0 continues the previous one.
COMMAND_WORDS = (
    DECL_KEYWORDS
    | MODIFIERS
    | frozenset(
        [
            "namespace", "section", "end", "open", "variable", "universe", "universes", "set_option", "attribute",
            "mutual", "export", "notation", "notation3", "infix", "infixl", "infixr", "prefix", "postfix", "macro",
            "macro_rules", "syntax", "elab", "elab_rules", "declare_syntax_cat", "initialize", "builtin_initialize",
            "import", "prelude", "omit", "include", "assert_not_exists", "add_decl_doc", "initialize_simps_projections",
            "register_simp_attr", "library_note", "suppress_compilation", "unsuppress_compilation", "run_cmd",
            "compile_inductive%", "compile_def%", "gen_injective_theorems%", "register_option", "declare_config_elab",
            "declare_aesop_rule_sets", "unif_hint", "register_hint", "proof_wanted", "mk_iff_of_inductive_prop",
            "register_label_attr", "deriving", "unseal", "seal",
        ]
    )
)
_FIRST_WORD = re.compile(r"[^\s(\[{:]+")


# ---------------------------------------------------------------------------------------------------
# Results


@dataclass(slots=True)
class Declaration:
    full_name: str
    kind: str  # theorem, lemma, def, abbrev, instance, structure, class, inductive, opaque, axiom, alias, ...
    code: str  # statement text, whitespace collapsed, from the modifiers to before `:=` / `where` / `|`
    line: int  # 1-based line of the first modifier / keyword
    column: int  # 0-based column (code points)
    end_line: int  # last line of the whole command (body included)
    private: bool = False
    protected: bool = False
    tactic_proof: bool = False  # the body is `by ...`
    namespace: str = ""  # the namespace the declaration was written in
    opens: tuple[str, ...] = ()  # namespaces opened where it was written (as written, innermost scope last)
    body: str = field(default="", repr=False)  # proof / definition text, comments and string contents blanked


@dataclass(slots=True)
class LeanFile:
    module: str
    path: str
    imports: list[str]
    declarations: list[Declaration]


def module_of_path(rel_path: str) -> str:
    p = rel_path[:-5] if rel_path.endswith(".lean") else rel_path
    return p.replace("\\", "/").strip("/").replace("/", ".")


# ---------------------------------------------------------------------------------------------------
# Scopes


@dataclass(slots=True)
class _Scope:
    kind: str  # namespace | section | mutual
    name: str  # "A.B" for a namespace, section name or ""
    opens: list[str] = field(default_factory=list)


class _ScopeStack:
    def __init__(self) -> None:
        self.stack: list[_Scope] = []
        self.root_opens: list[str] = []

    @property
    def namespace(self) -> str:
        return ".".join(s.name for s in self.stack if s.kind == "namespace" and s.name)

    @property
    def in_mutual(self) -> bool:
        return any(s.kind == "mutual" for s in self.stack)

    def opens(self) -> list[str]:
        out = list(self.root_opens)
        for s in self.stack:
            out.extend(s.opens)
        return out

    def add_opens(self, names: Iterable[str]) -> None:
        (self.stack[-1].opens if self.stack else self.root_opens).extend(names)

    def end(self, name: str) -> None:
        if not self.stack:
            return
        if name:
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i].kind in ("namespace", "section") and self.stack[i].name == name:
                    del self.stack[i:]
                    return
            # `namespace A.B` may be closed as `end B` then `end A` in sloppy code: pop a matching suffix
            top = self.stack[-1]
            if top.kind == "namespace" and top.name.endswith("." + name):
                top.name = top.name[: -len(name) - 1]
                return
        self.stack.pop()


# ---------------------------------------------------------------------------------------------------
# Parsing helpers

_OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "⦃": "⦄", "⟨": "⟩", "⟦": "⟧", "⁅": "⁆", "‹": "›"}
_CLOSE_BRACKETS = frozenset(_OPEN_BRACKETS.values())
_STMT_END = re.compile(r":=|\bwhere\b|[()\[\]{}⦃⦄⟨⟩⟦⟧⁅⁆‹›]|\n[ \t]*\|(?!\|)|\|")
_WS = re.compile(r"\s+")
_IN_WORD = re.compile(r"(?<![\w'.])in\b")
_IN_AT_END = re.compile(r"(?<![\w'.])in\s*$")


def _find_statement_end(m: str, start: int, end: int, kind: str) -> tuple[int, str]:
    """Position in ``m`` (masked text) where the statement starting at ``start`` ends, and the delimiter.

    Returns ``(end, "")`` when the declaration has no body (``structure Foo``, ``axiom``, ``opaque``).
    A ``|`` ends a statement only at the start of a line (pattern-matching definitions), or anywhere at depth 0
    for an ``inductive`` (constructors); ``|x|`` inside a statement is an absolute value.
    """
    depth = 0
    for mm in _STMT_END.finditer(m, start, end):
        t = mm.group()
        if t in _OPEN_BRACKETS:
            depth += 1
        elif t in _CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        elif depth == 0:
            if t == ":=":
                return mm.start(), ":="
            if t == "where":
                return mm.start(), "where"
            if t.endswith("|") and t.startswith("\n"):
                # a match alternative: `| pat => rhs` (or a constructor of an inductive)
                line_end = m.find("\n", mm.end(), end)
                rest = m[mm.end() : line_end if line_end >= 0 else end]
                if kind in ("inductive", "class inductive") or "=>" in rest:
                    return mm.start() + t.index("|"), "|"
            elif t == "|" and kind in ("inductive", "class inductive"):
                return mm.start(), "|"
    return end, ""


def _skip_balanced(m: str, i: int) -> int:
    """``m[i]`` is an opening bracket: return the index after its matching close (or ``len(m)``)."""
    depth = 0
    n = len(m)
    while i < n:
        c = m[i]
        if c in _OPEN_BRACKETS:
            depth += 1
        elif c in _CLOSE_BRACKETS:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _skip_ws(m: str, i: int) -> int:
    n = len(m)
    while i < n and m[i].isspace():
        i += 1
    return i


def _word_at(m: str, i: int, end: int | None = None) -> str:
    w = _FIRST_WORD.match(m, i, len(m) if end is None else end)
    return w.group() if w else ""


def _parse_open_args(text: str) -> list[str]:
    """Namespaces opened by the text after ``open`` (``scoped`` opens no names; ``renaming`` is ignored)."""
    text = _WS.sub(" ", text).strip()
    if text.startswith("scoped "):
        return []
    out: list[str] = []
    toks = re.findall(r"\([^)]*\)|\S+", text)
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("hiding", "renaming"):
            break  # `open X hiding a b`: X opened; names after are excluded ones
        if t.startswith("("):
            i += 1
            continue
        if _NAME_AT.fullmatch(t):
            out.append(t)
        i += 1
    return out


# ---------------------------------------------------------------------------------------------------
# The scanner


def parse_imports(masked: str) -> list[str]:
    """Module names imported by the header (``import A`` lines before the first other command)."""
    imports: list[str] = []
    for line in masked.split("\n"):
        s = line.strip()
        if not s or s == "prelude":
            continue
        if not s.startswith("import"):
            break
        mm = re.match(r"import\s+(.*)$", s)
        if not mm:
            break
        for tok in mm.group(1).split():
            if tok not in ("runtime", "all"):
                imports.append(tok)
    return imports


def _command_starts(masked_lines: list[str], text_lines: list[str]) -> list[tuple[int, str, int]]:
    """(line index, first word, indent) of each line that can start a command."""
    out: list[tuple[int, str, int]] = []
    for i, line in enumerate(masked_lines):
        if not line:
            continue
        c = line[0]
        if c.isspace():
            s = line.lstrip()
            if not s:
                continue
            if text_lines[i].startswith("/-"):  # `/- comment -/ theorem x ...`: still a column-0 command
                line = s
                c = s[0]
        if c.isspace():
            w = _word_at(s, 0)
            if w in DECL_KEYWORDS or w in MODIFIERS or s.startswith("@["):  # candidates inside `mutual`
                out.append((i, w if not s.startswith("@[") else "@[", len(line) - len(s)))
            continue
        if line.startswith("@["):
            out.append((i, "@[", 0))
        elif c == "#":
            out.append((i, "#", 0))
        else:
            w = _word_at(line, 0)
            if w in COMMAND_WORDS:
                out.append((i, w, 0))
    return out


def parse_lean_source(text: str, module: str = "", path: str = "") -> LeanFile:
    """Scan one Lean 4 file."""
    masked, uncommented = mask_source(text)
    lines = masked.split("\n")
    line_offsets = [0]
    for ln in lines:
        line_offsets.append(line_offsets[-1] + len(ln) + 1)
    imports = parse_imports(masked)
    starts = _command_starts(lines, text.split("\n"))
    scopes = _ScopeStack()
    decls: list[Declaration] = []

    # Group raw start lines into commands: attribute-only / modifier-only / `... in` prefixes join what follows.
    idx = 0
    n_starts = len(starts)
    while idx < n_starts:
        line_i, word, indent = starts[idx]
        mutual = scopes.in_mutual or word == "mutual"
        if indent and not mutual:
            idx += 1
            continue
        j = idx + 1
        while j < n_starts and starts[j][2] and not mutual:
            j += 1  # indented candidates outside `mutual` are not commands
        # merge while the text so far is only attributes / modifiers or ends in `in`
        while j < n_starts:
            seg = masked[line_offsets[starts[j - 1][0]] : line_offsets[starts[j][0]]]
            if _only_prefix(seg) or _IN_AT_END.search(seg):
                j += 1
                while j < n_starts and starts[j][2] and not mutual:
                    j += 1
                continue
            break
        end_line_i = starts[j][0] if j < n_starts else len(lines)
        a, b = line_offsets[line_i], min(line_offsets[end_line_i], len(masked))
        _handle_command(masked, uncommented, a, b, line_i, end_line_i, scopes, decls, line_offsets)
        idx = j
    return LeanFile(module=module, path=path, imports=imports, declarations=decls)


def _only_prefix(seg: str) -> bool:
    """True when ``seg`` holds only attributes (``@[...]``) and modifiers."""
    i, n = 0, len(seg)
    while True:
        i = _skip_ws(seg, i)
        if i >= n:
            return True
        if seg.startswith("@[", i):
            i = _skip_balanced(seg, i + 1)
            continue
        w = _word_at(seg, i)
        if w in MODIFIERS:
            i += len(w)
            continue
        return False


def _handle_command(
    m: str,
    u: str,
    a: int,
    b: int,
    line_i: int,
    end_line_i: int,
    scopes: _ScopeStack,
    decls: list[Declaration],
    line_offsets: list[int],
) -> None:
    temp_opens: list[str] = []
    i = _skip_ws(m, a)
    # `open X in`, `set_option o v in`, `variable ... in`, `include ... in`, `omit ... in` prefixes
    while True:
        w = _word_at(m, i)
        if w in ("open", "set_option", "variable", "include", "omit"):
            mm = _IN_WORD.search(m, i + len(w), b)
            if mm:
                if w == "open":
                    temp_opens.extend(_parse_open_args(m[i + len(w) : mm.start()]))
                i = _skip_ws(m, mm.end())
                continue
        break
    if i >= b:
        return
    w = _word_at(m, i)
    rest_of_line = m[i : m.find("\n", i) if m.find("\n", i) >= 0 else b]
    if w == "namespace":
        name = rest_of_line[len(w) :].strip()
        scopes.stack.append(_Scope("namespace", name))
        return
    if w == "section" or (w == "noncomputable" and re.match(r"noncomputable\s+section\b", rest_of_line)):
        name = re.sub(r"^(noncomputable\s+)?section", "", rest_of_line).strip()
        scopes.stack.append(_Scope("section", name))
        return
    if w == "mutual":
        scopes.stack.append(_Scope("mutual", ""))
        return
    if w == "end":
        name = rest_of_line[len(w) :].strip()
        if not name and scopes.stack and scopes.stack[-1].kind == "mutual":
            scopes.stack.pop()
            return
        scopes.end(name)
        return
    if w == "open":
        scopes.add_opens(_parse_open_args(m[i + len(w) : b]))
        return
    _parse_declaration(m, u, i, b, line_i, end_line_i, scopes, temp_opens, decls, line_offsets)


def _parse_declaration(
    m: str,
    u: str,
    i: int,
    b: int,
    line_i: int,
    end_line_i: int,
    scopes: _ScopeStack,
    temp_opens: list[str],
    decls: list[Declaration],
    line_offsets: list[int],
) -> None:
    # attributes
    while m.startswith("@[", i, b):
        i = _skip_ws(m, _skip_balanced(m, i + 1))
    if i >= b:
        return
    start = i
    private = protected = False
    while True:
        w = _word_at(m, i, b)
        if w in MODIFIERS:
            private |= w == "private"
            protected |= w == "protected"
            i = _skip_ws(m, i + len(w))
            continue
        break
    kw = _word_at(m, i, b)
    if kw not in DECL_KEYWORDS or kw == "example":
        return
    kind = kw
    i = _skip_ws(m, i + len(kw))
    if kw == "class" and _word_at(m, i, b) == "inductive":
        kind = "class inductive"
        i = _skip_ws(m, i + len("inductive"))
    if kw == "instance" and m.startswith("(", i):  # (priority := n)
        i = _skip_ws(m, _skip_balanced(m, i))
    ns = scopes.namespace
    line_no = _line_of(line_offsets, start)
    col = start - line_offsets[line_no - 1]
    opens = tuple(scopes.opens() + temp_opens)
    end_line = end_line_i  # 0-based exclusive == 1-based inclusive last line
    if kind == "alias":
        _parse_alias(m, u, i, b, start, ns, opens, line_no, col, end_line, private, protected, decls)
        return
    nm = _NAME_AT.match(m, i, b)
    if not nm:
        return  # anonymous instance: Lean invents its name; not referable by proof text, so not a premise
    name = nm.group()
    if kind == "instance" and name in ("where",):
        return
    stmt_end, delim = _find_statement_end(m, nm.end(), b, kind)
    code = _WS.sub(" ", u[start:stmt_end]).strip()
    body_start = stmt_end + len(delim) if delim in (":=", "where") else stmt_end
    body = m[body_start:b]
    tactic = delim == ":=" and bool(re.match(r"\s*by\b", body))
    decls.append(
        Declaration(
            full_name=_full_name(ns, name),
            kind=kind,
            code=code,
            line=line_no,
            column=col,
            end_line=end_line,
            private=private,
            protected=protected,
            tactic_proof=tactic,
            namespace=ns,
            opens=opens,
            body=body,
        )
    )


def _parse_alias(
    m: str,
    u: str,
    i: int,
    b: int,
    start: int,
    ns: str,
    opens: tuple[str, ...],
    line_no: int,
    col: int,
    end_line: int,
    private: bool,
    protected: bool,
    decls: list[Declaration],
) -> None:
    """``alias a := t`` and ``alias ⟨a, b⟩ := t_iff`` (names ``_`` skipped)."""
    eq = m.find(":=", i, b)
    if eq < 0:
        return
    lhs = m[i:eq].strip()
    target = m[eq + 2 : b].strip().split()[0] if m[eq + 2 : b].strip() else ""
    names = [x.strip() for x in lhs.strip("⟨⟩").split(",")] if lhs.startswith("⟨") else [lhs]
    code = _WS.sub(" ", u[start:eq + 2] + " " + target).strip()
    for nm in names:
        if not nm or nm == "_" or not _NAME_AT.fullmatch(nm):
            continue
        decls.append(
            Declaration(
                full_name=_full_name(ns, nm),
                kind="alias",
                code=code,
                line=line_no,
                column=col,
                end_line=end_line,
                private=private,
                protected=protected,
                namespace=ns,
                opens=opens,
                body=target,
            )
        )


def _full_name(ns: str, name: str) -> str:
    if name.startswith("_root_."):
        return name[len("_root_.") :]
    return f"{ns}.{name}" if ns else name


def _line_of(line_offsets: list[int], pos: int) -> int:
    """1-based line containing character offset ``pos``."""
    lo, hi = 0, len(line_offsets) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if line_offsets[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


# ---------------------------------------------------------------------------------------------------
# Names a proof text refers to


def referenced_identifiers(body: str) -> set[str]:
    """Dotted identifiers written in ``body`` (masked text), skipping field projections like ``(f x).foo``."""
    return set(IDENT.findall(body))


def statement_without_name(code: str) -> str:
    """``theorem foo (x : α) : P x`` → ``(x : α) : P x``: what a goal state would show, without the name."""
    mm = re.match(
        r"^(?:(?:private|protected|noncomputable|nonrec|partial|unsafe|scoped|local)\s+)*"
        r"(?:theorem|lemma|def|abbrev|instance|structure|class(?:\s+inductive)?|inductive|opaque|axiom|"
        r"irreducible_def|alias)\s+",
        code,
    )
    if not mm:
        return code
    rest = code[mm.end() :]
    nm = _NAME_AT.match(rest)
    return rest[nm.end() :].strip() if nm else rest.strip()
