"""Names a declaration brings into scope besides its own: what ``@[to_additive]`` generates, structure
fields and parent projections, constructors, ``export`` aliases.

``@[to_additive]`` on ``Finset.prod_congr`` declares ``Finset.sum_congr`` (and ``attribute [to_additive] x``
does the same for an existing ``x``). The rules follow Mathlib's ``Mathlib/Tactic/ToAdditive.lean``
(``String.splitCase``, ``nameDict``, ``fixAbbreviation``, ``targetName``), re-stated here:

* the last component is cut into words at ``_`` (kept as words of their own) and at lower→upper case
  changes (``LE``, ``LT``, ``WF`` end a word: ``LEConj`` → ``LE``, ``Conj``); each word is translated through
  the dictionary by its lower-case form (``mul`` → ``add``, ``one`` → ``zero``, ``prod`` → ``sum``,
  ``monoid`` → ``add`` ``Monoid``, ...), its first output cased like the input word (``Mul`` → ``Add``,
  ``HMul`` → ``HAdd``), then a few fixed phrases are rewritten (``zero_le`` → ``nonneg``, ``comm`` ``Add`` →
  ``addComm``, ...); primes split the name into pieces translated separately;
* the namespace keeps its components, each replaced by its known translation (``Monoid`` → ``AddMonoid``,
  from the ``to_additive`` of ``Monoid`` itself);
* an explicit name (``@[to_additive foo_add]``, ``@[to_additive Bar.baz]``) replaces as many trailing
  components as it has.

The additive statement is the multiplicative one translated word by word (identifiers, ``*`` → ``+``,
``∏`` → ``∑``, ``1`` → ``0``, ``/`` → ``-``, ``⁻¹`` → ``-``): what it says, up to argument order.

A ``structure`` / ``class`` ``S`` declares its fields ``S.f`` (the lines of its ``where`` block), the
projections to its parents ``S.toP`` (``extends P, Q``) and its constructor (``S.mk``, or ``name ::``); an
``inductive`` ``T`` its constructors ``T.c`` (``| c ... : type``). ``export N (a b)`` makes ``a`` and ``b``
names for ``N.a`` and ``N.b`` in the current namespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.lean_source import AttributeCommand, Declaration

# lower-case word -> words it becomes (the first one is cased like the input word)
_DICT: dict[str, tuple[str, ...]] = {
    "one": ("zero",), "mul": ("add",), "smul": ("vadd",), "inv": ("neg",), "div": ("sub",), "prod": ("sum",),
    "hmul": ("hadd",), "hsmul": ("hvadd",), "hdiv": ("hsub",), "hpow": ("hsmul",), "finprod": ("finsum",),
    "tprod": ("tsum",), "pow": ("nsmul",), "npow": ("nsmul",), "zpow": ("zsmul",), "mabs": ("abs",),
    "monoid": ("add", "Monoid"), "submonoid": ("add", "Submonoid"), "group": ("add", "Group"),
    "subgroup": ("add", "Subgroup"), "semigroup": ("add", "Semigroup"), "magma": ("add", "Magma"),
    "haar": ("add", "Haar"), "prehaar": ("add", "Prehaar"), "unit": ("add", "Unit"), "units": ("add", "Units"),
    "cyclic": ("add", "Cyclic"), "rootable": ("divisible",), "commute": ("add", "Commute"),
    "semiconj": ("add", "Semiconj"), "zpowers": ("zmultiples",), "powers": ("multiples",),
    "multipliable": ("summable",),
}

# Word sequences rewritten after translation (case-sensitive), longest match first at each position.
_FIXES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("cancel", "Add"), ("addCancel",)), (("Cancel", "Add"), ("AddCancel",)),
    (("left", "Cancel", "Add"), ("addLeftCancel",)), (("Left", "Cancel", "Add"), ("AddLeftCancel",)),
    (("right", "Cancel", "Add"), ("addRightCancel",)), (("Right", "Cancel", "Add"), ("AddRightCancel",)),
    (("cancel", "Comm", "Add"), ("addCancelComm",)), (("Cancel", "Comm", "Add"), ("AddCancelComm",)),
    (("comm", "Add"), ("addComm",)), (("Comm", "Add"), ("AddComm",)),
    (("Zero", "LE"), ("Nonneg",)), (("zero", "_", "le"), ("nonneg",)),
    (("Zero", "LT"), ("Pos",)), (("zero", "_", "lt"), ("pos",)),
    (("LE", "Zero"), ("Nonpos",)), (("le", "_", "zero"), ("nonpos",)),
    (("LT", "Zero"), ("Neg",)), (("lt", "_", "zero"), ("neg",)),
    (("Add", "Single"), ("Single",)), (("add", "Single"), ("single",)), (("add", "_", "single"), ("single",)),
    (("Add", "Support"), ("Support",)), (("add", "Support"), ("support",)), (("add", "_", "support"), ("support",)),
    (("Add", "TSupport"), ("TSupport",)), (("add", "TSupport"), ("tsupport",)),
    (("add", "_", "tsupport"), ("tsupport",)),
    (("Add", "Indicator"), ("Indicator",)), (("add", "Indicator"), ("indicator",)),
    (("add", "_", "indicator"), ("indicator",)),
    (("is", "Square"), ("even",)), (("Is", "Square"), ("Even",)),
    (("is", "Regular"), ("isAddRegular",)), (("Is", "Regular"), ("IsAddRegular",)),
    (("is", "Left", "Regular"), ("isAddLeftRegular",)), (("Is", "Left", "Regular"), ("IsAddLeftRegular",)),
    (("is", "Right", "Regular"), ("isAddRightRegular",)), (("Is", "Right", "Regular"), ("IsAddRightRegular",)),
    (("HSmul",), ("HSMul",)), (("NSmul",), ("NSMul",)), (("Nsmul",), ("NSMul",)), (("ZSmul",), ("ZSMul",)),
    (("neg", "Fun"), ("invFun",)), (("Neg", "Fun"), ("InvFun",)),
    (("order", "Of"), ("addOrderOf",)), (("Order", "Of"), ("AddOrderOf",)),
    (("is", "Of", "Fin", "Order"), ("isOfFinAddOrder",)), (("Is", "Of", "Fin", "Order"), ("IsOfFinAddOrder",)),
    (("zero", "Le", "Part"), ("posPart",)), (("le", "Zero", "Part"), ("negPart",)),
]
_FIXES.sort(key=lambda f: -len(f[0]))

# A word ending in one of these (upper-case) names ends there, with an optional listed continuation.
_END_CAPITAL: dict[str, tuple[str, ...]] = {"LE": ("",), "LT": ("",), "WF": ("",), "Coe": ("TC", "T", "HTCT")}


def split_case(s: str) -> list[str]:
    """``InvHMulLEConjugate₂SMul_ne_top`` → ``Inv HMul LE Conjugate₂ SMul _ ne _ top`` (Mathlib's splitCase)."""
    out: list[str] = []
    i = 0
    while len(s) > 1 and i + 1 < len(s):
        a, b = s[i], s[i + 1]
        if a == "_" or b == "_":
            out.append(s[: i + 1])
            s, i = s[i + 1 :], 0
            continue
        if b.isupper():
            conts = _END_CAPITAL.get(s[: i + 1])
            if conts is not None:
                rest = s[i + 1 :]
                cont = next((c for c in conts if rest.startswith(c)), None)
                if cont is not None:
                    out.append(s[: i + 1] + cont)
                    s, i = rest[len(cont) :], 0
                    continue
            if not a.isupper():
                out.append(s[: i + 1])
                s, i = s[i + 1 :], 0
                continue
        i += 1
    if s:
        out.append(s)
    return out


def _case_like(model: str, word: str) -> str:
    """``word`` with its first ``len(model)`` characters cased like ``model``'s (``HMul``, ``hadd`` → ``HAdd``)."""
    chars = list(word)
    for i, m in enumerate(model[: len(word)]):
        if m.islower():
            chars[i] = chars[i].lower()
        elif m.isupper():
            chars[i] = chars[i].upper()
    return "".join(chars)


def _fix(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for pat, rep in _FIXES:
            if tuple(words[i : i + len(pat)]) == pat:
                out.extend(rep)
                i += len(pat)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def additive_word(s: str) -> str:
    """The additive form of one name component (``prod_congr`` → ``sum_congr``, ``mul_one'`` → ``add_zero'``)."""
    pieces = s.split("'")
    res = []
    for piece in pieces:
        words: list[str] = []
        for w in split_case(piece) if piece else []:
            tr = _DICT.get(w.lower())
            words.extend((_case_like(w, tr[0]), *tr[1:]) if tr else (w,))
        res.append("".join(_fix(words)))
    return "'".join(res)


def additive_name(full_name: str, explicit: str | None = None, translations: dict[str, str] | None = None) -> str:
    """The name ``@[to_additive explicit]`` gives ``full_name``; ``translations`` maps already known names
    (multiplicative → additive) so that a namespace like ``Monoid`` becomes ``AddMonoid``."""
    parts = full_name.split(".")
    pre, last = parts[:-1], parts[-1]
    if translations and pre:  # the longest translated prefix of the namespace
        for k in range(len(pre), 0, -1):
            t = translations.get(".".join(pre[:k]))
            if t is not None:
                pre = t.split(".") + pre[k:]
                break
    if explicit:
        if explicit.startswith("_root_."):
            return explicit[len("_root_.") :]
        depth = explicit.count(".") + 1
        keep = pre[: max(0, len(pre) - (depth - 1))]
        return ".".join([*keep, explicit])
    return ".".join([*pre, additive_word(last)])


_IDENT_OR_SYM = re.compile(r"[^\W\d][\w'.!?₀-₉]*|\d+|\S")
_SYMBOLS = {"*": "+", "∏": "∑", "/": "-", "⁻¹": "-", "•": "+ᵥ"}


def additive_statement(text: str) -> str:
    """A statement translated word by word (identifiers by `additive_word` per component, ``*`` → ``+``, ...)."""

    def sub(m: re.Match[str]) -> str:
        t = m.group()
        if t == "1":
            return "0"
        if t in _SYMBOLS:
            return _SYMBOLS[t]
        if t[0].isalpha() or t[0] == "_":
            return ".".join(additive_word(p) if p else p for p in t.split("."))
        return t

    return re.sub(r"⁻¹|[^\W\d][\w'.!?₀-₉]*|\b\d+\b|[*∏/•]", sub, text)


# ---------------------------------------------------------------------------------------------------
# @[to_additive] attribute texts

_TA = re.compile(r"^to_additive[?!]?(?:\s|$)")


def to_additive_target(attr: str) -> tuple[bool, str | None]:
    """``(generates, explicit name)`` for one attribute text: ``to_additive`` → ``(True, None)``,
    ``to_additive (attr := simp) foo "doc"`` → ``(True, "foo")``; ``to_additive existing ...`` declares nothing
    new (the additive declaration is written separately) → ``(False, None)``; other attributes ``(False, None)``."""
    attr = attr.strip()
    if not _TA.match(attr):
        return False, None
    rest = attr[attr.index("to_additive") + len("to_additive") :].lstrip("?! ")
    while rest.startswith("("):  # (attr := simp), (reorder := 1 2)
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                rest = rest[i + 1 :].lstrip()
                break
        else:
            return True, None
    word = re.match(r"[^\s\"(]+", rest)
    if word and word.group() == "existing":
        return False, None
    if word and not rest.startswith('"'):
        return True, word.group()
    return True, None


# ---------------------------------------------------------------------------------------------------
# Structures, inductives, export

_FIELD_LINE = re.compile(r"^(?:(?:protected|private)\s+)?(?P<names>[^\W\d][\w'.!?₀-₉]*(?:\s+[^\W\d][\w'.!?₀-₉]*)*)"
                         r"\s*(?P<binders>(?:[({\[⦃][^:]*[)}\]⦄]\s*)*):(?!=)\s*(?P<type>.*)$")
_BINDER_FIELD = re.compile(r"^(?:(?:protected|private)\s+)?[({⦃](?P<names>[^:]+?)\s*:(?!=)\s*(?P<type>.*?)[)}⦄]\s*$")
_CTOR_NAME = re.compile(r"^(?P<name>[^\W\d][\w'!?₀-₉]*)\s*::")


def structure_members(statement: str, body: str) -> tuple[list[tuple[str, str]], list[str], str]:
    """Fields ``[(name, type)]``, parent names and constructor name of a ``structure`` / ``class`` whose
    statement (up to ``where``) is ``statement`` and whose ``where`` block is ``body`` (masked text).

    Fields are the lines at the block's first indentation that read ``name … : type`` (or ``(a b : T)``);
    lines deeper in are continuations of the field above; ``name ::`` renames the constructor.
    """
    parents: list[str] = []
    ext = re.search(r"\bextends\b(.*)$", statement, re.S)
    if ext:
        depth = 0
        cur = ""
        for ch in ext.group(1) + ",":
            if ch in "([{⦃⟨":
                depth += 1
            elif ch in ")]}⦄⟩":
                depth -= 1
            if ch == "," and depth == 0:
                head = cur.strip().split()
                if head:
                    nm = re.sub(r"^.*?:\s*", "", cur.strip()).split()[0] if ":" in cur else head[0]
                    parents.append(nm.split(".")[-1])
                cur = ""
            else:
                cur += ch
    fields: list[tuple[str, str]] = []
    ctor = "mk"
    lines = body.split("\n")
    if lines and lines[0].lstrip().startswith("where"):
        lines[0] = lines[0].lstrip()[len("where") :]
    col: int | None = None
    for line in lines:
        content = line.strip()
        if not content:
            continue
        indent = len(line) - len(line.lstrip())
        if col is None:
            col = indent
        if indent > col and fields:
            fields[-1] = (fields[-1][0], f"{fields[-1][1]} {content}")
            continue
        if indent < col or content.startswith(("deriving", "--")):
            continue
        m = _CTOR_NAME.match(content)
        if m:
            ctor = m.group("name")
            continue
        m = _BINDER_FIELD.match(content) or _FIELD_LINE.match(content)
        if m:
            typ = re.split(r":=", m.group("type"))[0].strip()
            for nm in m.group("names").split():
                fields.append((nm, typ))
        elif re.match(r"^[^\W\d][\w'!?₀-₉]*\s*:=", content):  # `field := default` overriding a parent's
            continue
    return fields, parents, ctor


def constructors(body: str) -> list[tuple[str, str]]:
    """``[(name, text)]`` of an inductive's constructors, from its body starting at the first ``|``."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"(?:^|\n)\s*\||(?<=\s)\|(?=\s)", body):
        part = part.strip()
        m = re.match(r"(?:(?:protected|private)\s+)?(?P<name>[^\W\d][\w'!?₀-₉]*)(?P<rest>.*)$", part, re.S)
        if m and m.group("name") not in ("deriving", "with"):
            rest = re.split(r"\bderiving\b", m.group("rest"))[0]
            out.append((m.group("name"), " ".join(rest.split())))
    return out


def export_names(args: str) -> tuple[str, list[str]]:
    """``Foo (a b)`` (the text after ``export``) → ``("Foo", ["a", "b"])``; ``export private ...`` and other
    forms → ``("", [])``."""
    m = re.match(r"\s*(?P<ns>[^\W\d][\w'.!?₀-₉]*)\s*\((?P<names>[^)]*)\)", args)
    if not m or m.group("ns") == "private":
        return "", []
    return m.group("ns"), m.group("names").split()


# ---------------------------------------------------------------------------------------------------
# Generating the declarations


def _candidates(name: str, ns: str, opens: Sequence[str]) -> list[str]:
    """Full names ``name`` may denote where it is written (the namespace and its parents, then opens)."""
    if name.startswith("_root_."):
        return [name[len("_root_.") :]]
    parts = ns.split(".") if ns else []
    out = [".".join([*parts[:k], name]) for k in range(len(parts), -1, -1)]
    out += [f"{o}.{name}" for o in reversed(opens)]
    return out


GENERATED_KINDS = ("field", "projection", "constructor", "to_additive")


def _member(d: Declaration, name: str, kind: str, code: str, protected: bool = False) -> Declaration:
    return Declaration(full_name=f"{d.full_name}.{name}", kind=kind, code=code, line=d.line, column=d.column,
                       end_line=d.end_line, private=d.private, protected=protected, namespace=d.full_name,
                       opens=d.opens)


def members(d: Declaration) -> list[Declaration]:
    """The fields, parent projections and constructors declaration ``d`` brings (``[]`` for other kinds)."""
    out: list[Declaration] = []
    if d.kind in ("structure", "class"):
        fields, parents, ctor = structure_members(d.code, d.body)
        for nm, typ in fields:
            prot = bool(re.search(rf"\bprotected\s+(?:[^\n:]*\s)?{re.escape(nm)}\b", d.body))
            out.append(_member(d, nm, "field", f"{d.full_name}.{nm} : {typ}", prot))
        for p in parents:
            out.append(_member(d, f"to{p}", "projection", f"{d.full_name}.to{p} : {p}"))
        out.append(_member(d, ctor, "constructor", f"{d.full_name}.{ctor}"))
    elif d.kind in ("inductive", "class inductive"):
        for nm, rest in constructors(d.body):
            out.append(_member(d, nm, "constructor", f"{d.full_name}.{nm} {rest}".strip()))
    return out


def generated_declarations(
    files: Sequence[tuple[Sequence[Declaration], Sequence[AttributeCommand]]],
) -> list[list[Declaration]]:
    """For each file (its declarations and ``attribute`` commands), the declarations it generates: members of
    structures / classes / inductives, and the ``@[to_additive]`` twins of declarations (members included)."""
    out: list[list[Declaration]] = [[] for _ in files]
    mem: list[list[Declaration]] = [[m for d in ds for m in members(d)] for ds, _ in files]
    known = {d.full_name for ds, _ in files for d in ds} | {m.full_name for ms in mem for m in ms}
    by_name: dict[str, tuple[int, Declaration]] = {}
    for fi, (ds, _) in enumerate(files):
        for d in ds:
            by_name.setdefault(d.full_name, (fi, d))
    # (file, source declaration, explicit name) for every to_additive
    sources: list[tuple[int, Declaration, str | None]] = []
    for fi, (ds, cmds) in enumerate(files):
        for d in ds:
            for a in d.attributes:
                gen, explicit = to_additive_target(a)
                if gen:
                    sources.append((fi, d, explicit))
        for c in cmds:
            for a in c.attributes:
                gen, explicit = to_additive_target(a)
                if not gen:
                    continue
                for nm in c.names:
                    full = next((x for x in _candidates(nm, c.namespace, c.opens) if x in by_name), None)
                    if full is not None:
                        sources.append((fi, by_name[full][1], explicit if len(c.names) == 1 else None))
    # translations first without, then with namespace mapping (Monoid → AddMonoid before Monoid.npow)
    translations = {d.full_name: additive_name(d.full_name, ex) for _, d, ex in sources}
    for fi, ms in enumerate(mem):
        out[fi].extend(ms)
    seen = set(known)
    for fi, d, explicit in sources:
        tgt = additive_name(d.full_name, explicit, translations)
        twins = [(d, tgt)] + [(m, additive_name(m.full_name, None, {d.full_name: tgt}))
                              for m in mem[fi] if m.namespace == d.full_name]
        for src, name in twins:
            if name in seen or name == src.full_name:
                continue  # written by hand, or already generated
            seen.add(name)
            out[fi].append(Declaration(
                full_name=name, kind="to_additive", code=additive_statement(src.code),
                line=src.line, column=src.column, end_line=src.end_line, private=src.private,
                protected=src.protected, namespace=name.rsplit(".", 1)[0] if "." in name else "", opens=src.opens))
    return out
