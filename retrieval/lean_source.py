"""Lean 4 source files as the premise corpus sees them: imports, declarations, their scopes and proof texts.

The reading itself is `prover.lean.syntax` (the project's one Lean tokenizer/scanner); this module turns its
declarations into the corpus's records. Per file it gives:

* the header's imports (module names; ``module`` / ``public import`` / ``meta import`` / ``import all``);
* every named declaration (``theorem``, ``lemma``, ``def``, ``abbrev``, ``instance``, ``structure``,
  ``class``, ``inductive``, ``opaque``, ``axiom``, ``irreducible_def``, ``alias``) with its full name resolved
  through ``namespace``/``end`` and ``_root_``, its modifiers, its statement text (up to the top-level ``:=`` /
  ``where`` / ``|``), its position, and its body (the proof text, used to find which premises a proof names);
* the ``open`` declarations in force at each declaration (scoped by ``section``/``namespace``, and
  ``open ... in``).

Line and column numbers refer to the original text (columns in code points).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prover.lean import syntax
from prover.lean.syntax import IDENT as _IDENT_KIND
from prover.lean.syntax import MODIFIERS, scan

DECL_KEYWORDS = frozenset(syntax.DECL_KINDS)
_NAME_AT = re.compile(syntax._IDENT_SRC)
IDENT = re.compile(rf"(?<![\w'.!?]){syntax._IDENT_SRC}")
_WS = re.compile(r"\s+")


def mask_source(text: str) -> tuple[str, str]:
    """Return ``(masked, uncommented)``, both exactly as long as ``text`` with newlines in place.

    ``uncommented`` has every comment (line, nested block, doc string) replaced by spaces; ``masked`` in addition
    has the contents of string and char literals replaced by spaces, so that brackets, ``:=`` and keywords found
    in it are real code.
    """
    src = scan(text)
    return src.masked, src.uncommented


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
    attributes: tuple[str, ...] = ()  # as written in `@[...]`, e.g. ("simp", "to_additive foo")


@dataclass(slots=True)
class AttributeCommand:
    """``attribute [attrs] names`` at ``line``, written in ``namespace`` with ``opens``."""

    names: tuple[str, ...]
    attributes: tuple[str, ...]
    namespace: str
    opens: tuple[str, ...]
    line: int


@dataclass(slots=True)
class Export:
    """``export target (names)`` at ``line``, written in ``namespace`` with ``opens``."""

    target: str
    names: tuple[str, ...]
    namespace: str
    opens: tuple[str, ...]
    line: int


@dataclass(slots=True)
class LeanFile:
    module: str
    path: str
    imports: list[str]
    declarations: list[Declaration]
    attribute_commands: list[AttributeCommand] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)


def module_of_path(rel_path: str) -> str:
    p = rel_path[:-5] if rel_path.endswith(".lean") else rel_path
    return p.replace("\\", "/").strip("/").replace("/", ".")


# ---------------------------------------------------------------------------------------------------
# The scanner


def parse_imports(text: str) -> list[str]:
    """Module names imported by the header of ``text`` (raw or masked source), every form of Lean's module
    system included."""
    return list(scan(text).header.modules)


def parse_lean_source(text: str, module: str = "", path: str = "") -> LeanFile:
    """Scan one Lean 4 file."""
    src = scan(text)
    masked, uncommented = src.masked, src.uncommented
    decls: list[Declaration] = []
    for d in src.declarations:
        if d.full_name is None or d.kind == "example":
            continue  # an anonymous instance: Lean invents its name, no proof text refers to it
        if d.kind == "alias":
            words = masked[d.proof[0] : d.proof[1]].split() if d.proof else []
            target = words[0] if words else ""
            code = _WS.sub(" ", uncommented[d.head : d.statement_end] + " := " + target).strip()
            body = target
        else:
            code = _WS.sub(" ", uncommented[d.head : d.statement_end]).strip()
            body = ""
            if d.proof is not None:
                a = d.proof[0] + (len("where") if d.delimiter == "where" else 0)
                body = masked[a : d.proof[1]]
        decls.append(
            Declaration(
                full_name=d.full_name,
                kind=d.kind,
                code=code,
                line=d.line,
                column=d.column,
                end_line=d.end_line,
                private=d.private,
                protected=d.protected,
                tactic_proof=d.delimiter == ":=" and body.lstrip().startswith("by") and _starts_with_by(body),
                namespace=d.namespace,
                opens=d.opens,
                body=body,
                attributes=d.attributes,
            )
        )
    attrs: list[AttributeCommand] = []
    exports: list[Export] = []
    for c, ns, opens in src.scoped_commands:
        line = src.line_col(c.start)[0]
        toks = c.tokens
        if c.kind == "export":
            m = re.match(r"\s*([^\s(]+)\s*\(([^)]*)\)", masked[toks[0].end : c.end])
            if m and m.group(1) != "private":
                exports.append(Export(m.group(1), tuple(m.group(2).split()), ns, opens, line))
            continue
        k = next((j for j, t in enumerate(toks) if t.text == "["), None)
        if k is None:
            continue
        e = syntax._skip_brackets(toks, k, len(toks) - 1)
        names = tuple(t.text for t in toks[e:] if t.kind == _IDENT_KIND)
        attrs.append(AttributeCommand(names, tuple(syntax.attribute_texts(toks[k + 1 : e - 1])), ns, opens, line))
    return LeanFile(module=module, path=path, imports=list(src.header.modules), declarations=decls,
                    attribute_commands=attrs, exports=exports)


def _starts_with_by(body: str) -> bool:
    toks = syntax.code_tokens(body[:64])
    return bool(toks) and toks[0].kind == _IDENT_KIND and toks[0].text == "by"


# ---------------------------------------------------------------------------------------------------
# Names a proof text refers to


def referenced_identifiers(body: str) -> set[str]:
    """Dotted identifiers written in ``body`` (masked text), skipping field projections like ``(f x).foo``."""
    return set(IDENT.findall(body))


_STATEMENT_HEAD = re.compile(
    r"^(?:(?:" + "|".join(sorted(MODIFIERS)) + r")\s+)*"
    r"(?:theorem|lemma|def|abbrev|instance|structure|class(?:\s+inductive)?|inductive|opaque|axiom|"
    r"irreducible_def|alias)\s+"
)


def statement_without_name(code: str) -> str:
    """``theorem foo (x : α) : P x`` → ``(x : α) : P x``: what a goal state would show, without the name."""
    mm = _STATEMENT_HEAD.match(code)
    if not mm:
        return code
    rest = code[mm.end() :]
    nm = _NAME_AT.match(rest)
    return rest[nm.end() :].strip() if nm else rest.strip()
