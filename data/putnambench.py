"""PutnamBench (trishullab/PutnamBench, ``lean4/src/*.lean``): one Lean file per problem, read into a `Theorem`.

An upstream file is ``import``s, ``open``s, sometimes helper definitions, and for the 346 problems that ask
for an answer one or more **answer placeholders**::

    abbrev putnam_1962_a5_solution : ℕ → ℕ := sorry
    -- fun n : ℕ => n * (n + 1) * 2^(n - 2)
    /-- Evaluate in closed form ... -/
    theorem putnam_1962_a5 : ∀ n ≥ 2, putnam_1962_a5_solution n = ∑ k ∈ Finset.Icc 1 n, Nat.choose n k * k^2 :=
    sorry

A proof that leaves the placeholder ``sorry`` depends on ``sorryAx``: the soundness gate rejects it. The
field evaluates such problems in two ways (upstream's leaderboard tracks ``lean-wsolution`` and
``lean-nosolution``), and so do we (`ANSWER_MODES`):

* ``inline`` (the default): every placeholder name in the code is replaced by ``((ANSWER) : TYPE)`` with the
  answer from the comment, and the placeholder declaration and its comment are dropped: what upstream's own
  ``lean4/scripts/rewrite_solutions.py`` does (we replace identifier tokens, not substrings, so comments,
  docstrings and longer names are left alone). A comment that is not a Lean term, or whose shape disagrees
  with the placeholder's type (a tuple for a function type, ``True`` for a number...), is not guessed at:
  the placeholder stays ``sorry`` (the theorem cannot be proved soundly) and `PutnamProblem.answer_problems`
  says why; batch reports list such rows.
* ``free``: the placeholders stay in the header with ``sorry`` and the answer comments and the informal
  solution are removed, so the model has to produce the answer. A text that defines the placeholders is
  checked by `instantiate_answers`: it takes the placeholder definitions out of the text (their heads must be
  unchanged) and puts them into the theorem's header, so that the soundness gate checks the rest against
  the original statement in an environment where the placeholders mean the model's answers. The theorem's
  axiom audit covers the answers (the statement mentions them).

Statements keep upstream's text from the ``theorem`` keyword to ``:=`` (or ``:= by``); the docstring is the
informal statement; upstream's tags are the subjects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from prover.errors import UserError
from prover.lean.syntax import COMMENT, IDENT, Source, scan, tokenize
from prover.lean.types import Theorem

ANSWER_MODES = ("inline", "free")
TOTAL = 672  # problems at the pinned commit: the denominator the field reports

_PLACEHOLDER_KINDS = ("abbrev", "def", "noncomputable def")
_ENGLISH = frozenset({"the", "is", "are", "answer", "solution", "where", "which", "such", "any", "every", "and", "or"})
_LATEX = re.compile(r"\$|\\[a-zA-Z]+")
_OPEN, _CLOSE = "([{⟨⦃", ")]}⟩⦄"


class PutnamError(UserError):
    """An upstream file that does not have the expected shape (names the file)."""


@dataclass(frozen=True)
class AnswerPlaceholder:
    name: str
    type: str  # as written, e.g. ``ℕ → ℕ``
    head: str  # ``abbrev NAME : TYPE`` as written (the text before ``:=``)
    answer: str | None  # the comment after it, without ``--`` (None: no comment)
    problem: str | None = None  # why ``answer`` cannot be inlined (None: it can)
    span: tuple[int, int] = (0, 0)  # offsets of the declaration and its comment in the file


@dataclass(frozen=True)
class PutnamProblem:
    name: str
    text: str  # the whole upstream file
    placeholders: tuple[AnswerPlaceholder, ...]
    theorem_span: tuple[int, int]  # offsets of ``theorem`` .. just after ``:=`` (``:= by``)
    header_end: int  # where the theorem's command (doc comment included) starts
    doc: str | None  # the theorem's docstring, delimiters removed
    proof: str = ""  # upstream's proof text (``sorry``)
    answer_problems: tuple[str, ...] = field(default=())

    @property
    def statement(self) -> str:
        a, b = self.theorem_span
        return self.text[a:b]


# ---------------------------------------------------------------------------------------------------
# Reading a file


def parse_problem(text: str, name: str = "", where: str = "") -> PutnamProblem:
    """Split one upstream file into header, placeholders and the theorem ``name`` (default: the last)."""
    where = where or name or "<putnam file>"
    src = scan(text)
    if src.problems:
        p = src.problems[0]
        raise PutnamError(f"{where}:{p.line}:{p.column}: {p.message}")
    decls = src.declarations
    theorems = [d for d in decls if d.is_theorem and (not name or d.name == name)]
    if not theorems:
        raise PutnamError(f"{where}: no theorem {name or ''} in the file".replace("  ", " "))
    thm = theorems[-1]
    # Upstream's proof is `sorry` or `by sorry`, right after the statement's `:=`.
    body = [t for t in src.code if thm.proof is not None and thm.proof[0] <= t.start < thm.end]
    words = [t.text for t in body]
    if thm.delimiter != ":=" or thm.delimiter_span is None or words not in (["sorry"], ["by", "sorry"]):
        raise PutnamError(f"{where}: theorem {thm.name} is not proved by `sorry` (`:= sorry` / `:= by sorry`)")
    # after `:=`, or after `by` (kept with the statement, as the other benchmarks do)
    stmt_end = thm.delimiter_span[1] if words == ["sorry"] else body[0].end
    proof = "sorry"
    placeholders = []
    for d in decls:
        if d.kind not in _PLACEHOLDER_KINDS or not d.name or not d.name.endswith("_solution"):
            continue
        if d.delimiter_span is None or d.proof is None or src.text[d.proof[0] : d.proof[1]].split() != ["sorry"]:
            continue  # a definition with a body is a helper, not a placeholder
        placeholders.append(_placeholder(src, d, d.delimiter_span[0], thm.start))
    problems = tuple(f"{p.name}: {p.problem}" for p in placeholders if p.problem)
    doc = _doc_text(thm.doc)
    return PutnamProblem(
        name=thm.name or name,
        text=text,
        placeholders=tuple(placeholders),
        theorem_span=(thm.keyword, stmt_end),
        header_end=thm.outer_start,
        doc=doc,
        proof=proof,
        answer_problems=problems,
    )


def _doc_text(doc: str | None) -> str | None:
    if not doc:
        return None
    return doc.removeprefix("/--").removesuffix("-/").strip()


def _placeholder(src: Source, d: Any, assign: int, limit: int) -> AnswerPlaceholder:
    """The placeholder declared by ``d`` (``HEAD := sorry``, ``assign`` the offset of ``:=``) and the
    answer comment after it (before ``limit``)."""
    text = src.text
    head = text[d.head : assign].rstrip()  # `noncomputable abbrev NAME : TYPE`
    assert d.name_span is not None
    colon = text.find(":", d.name_span[1], assign)
    ptype = text[colon + 1 : assign].strip() if colon >= 0 else ""
    # The answer: the line comment right after the declaration (upstream puts it on the next line).
    comment = next((t for t in src.tokens if t.start >= d.end and t.kind == COMMENT), None)
    answer: str | None = None
    end = d.end
    if comment is not None and comment.start < limit and comment.text.startswith("--"):
        between = text[d.end : comment.start]
        if not between.strip():
            answer = comment.text[2:].strip()
            end = comment.end
    problem = None
    if answer is None:
        problem = "no answer comment after the placeholder"
    elif not ptype:
        problem = "the placeholder has no type"
    else:
        problem = answer_problem(answer, ptype)
    return AnswerPlaceholder(d.name, ptype, head, answer, problem, (d.outer_start, end))


# ---------------------------------------------------------------------------------------------------
# Is the comment a Lean term of the placeholder's type? (what can be told without Lean)


def answer_problem(answer: str, ptype: str) -> str | None:
    """Why ``answer`` (a comment's text) cannot be inlined as a term of type ``ptype``; None if it can.

    Without Lean this is a check of the term's *shape*: it must read as Lean (tokens, balanced brackets, no
    LaTeX or English, no command), and its outer form must fit the type: ``Prop`` ↔ a proposition (not a
    number, set, tuple or function), ``A × B × …`` ↔ a tuple of that many parts when it is a tuple literal,
    ``A → B`` ↔ ``fun`` with at most as many binders as arrows (or a name), ``Set``/``Finset`` ↔ not a number,
    tuple or ``fun``, a number type ↔ not a ``fun``, set-builder, tuple or ``True``/``False``. Lean checks
    the rest when it elaborates the statement."""
    a = answer.strip()
    if not a:
        return "the answer comment is empty"
    if _LATEX.search(a):
        return f"the answer comment is not a Lean term (LaTeX): {a[:60]!r}"
    src = scan(a)
    if src.problems:
        return f"the answer comment is not a Lean term ({src.problems[0].message}): {a[:60]!r}"
    toks = [t for t in src.tokens if t.kind != COMMENT]
    words = [t.text for t in toks if t.kind == IDENT]
    if sum(1 for w in words if w.lower() in _ENGLISH) >= 2:
        return f"the answer comment is prose, not a Lean term: {a[:60]!r}"
    if src.commands and any(c.kind not in ("", "term") for c in src.commands if c.kind[:1].isalpha()):
        kinds = {c.kind for c in src.commands}
        if kinds & {"theorem", "lemma", "def", "abbrev", "example", "open", "import", "namespace"}:
            return f"the answer comment holds a command, not a term: {a[:60]!r}"
    depth = 0
    for t in toks:
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
            if depth < 0:
                return f"the answer comment has unbalanced brackets: {a[:60]!r}"
    if depth:
        return f"the answer comment has unbalanced brackets: {a[:60]!r}"
    shape = _term_shape(a)
    tshape = _type_shape(ptype)
    bad = _disagree(shape, tshape)
    return f"the answer {a[:50]!r} does not fit the type {ptype[:40]!r} ({bad})" if bad else None


def _strip_parens(s: str) -> str:
    s = s.strip()
    while s.startswith("(") and s.endswith(")") and _top_level(s[1:-1], ",") == [s[1:-1]] and _balanced(s[1:-1]):
        inner = s[1:-1].strip()
        if _top_level(inner, ":") != [inner]:  # `(x : T)` is an ascription, keep its term
            inner = _top_level(inner, ":")[0].strip()
        s = inner
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for t in tokenize(s):
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _top_level(s: str, sep: str) -> list[str]:
    """``s`` split at ``sep`` tokens outside brackets."""
    parts, depth, last = [], 0, 0
    for t in tokenize(s):
        if t.kind == COMMENT:
            continue
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
        elif depth == 0 and t.text == sep:
            parts.append(s[last : t.start])
            last = t.end
    parts.append(s[last:])
    return parts


def _term_shape(a: str) -> tuple[str, int]:
    """(kind, size): ``fun`` (binders), ``tuple`` (parts), ``set`` (set literal / builder), ``bool``
    (True/False), ``number``, ``other``."""
    s = a.strip()
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]) and len(_top_level(s[1:-1], ",")) == 1:
        s = _strip_parens(s)
        if not (s.startswith("(") and s.endswith(")")):
            break
    if s.startswith(("fun ", "fun(", "λ")):
        body = s.split("=>", 1)[0] if "=>" in s else s.split("↦", 1)[0]
        binders = body.split(None, 1)[1] if " " in body else ""
        return "fun", _count_binders(binders)
    if (s.startswith("(") and s.endswith(")")) or (s.startswith("⟨") and s.endswith("⟩")):
        inner = s[1:-1]
        if _balanced(inner):
            parts = _top_level(inner, ",")
            if len(parts) > 1:
                return "tuple", len(parts)
    if s.startswith("{") or s == "∅":
        return "set", 0
    if s in ("True", "False"):
        return "bool", 0
    if re.fullmatch(r"-?\s*\d+(\.\d+)?", s):
        return "number", 0
    return "other", 0


def _count_binders(binders: str) -> int:
    """Binders of ``fun``: ``x y``, ``(x : T) (y : T)``, ``(a, b)`` (one pattern), ``x y : ℝ``."""
    b = binders.strip().rstrip(":")
    if not b:
        return 0
    if b.startswith("("):
        n, depth, start = 0, 0, True
        for t in tokenize(b):
            if t.text in _OPEN:
                if depth == 0:
                    n += 1
                depth += 1
            elif t.text in _CLOSE:
                depth -= 1
            elif depth == 0 and t.kind == IDENT and start:
                n += 1
        return n
    names = _top_level(b, ":")[0].split()
    return len(names)


def _type_shape(ptype: str) -> tuple[str, int]:
    """(kind, size): ``fun`` (arrows), ``prod`` (components), ``prop``, ``set``, ``number``, ``other``."""
    t = _strip_parens(ptype)
    arrows = _top_level(t, "→")
    if len(arrows) > 1:  # curried arity: `A → (B → C)` takes two arguments
        return "fun", len(arrows) - 1 + max(0, _type_shape(arrows[-1])[1] if _type_shape(arrows[-1])[0] == "fun" else 0)
    prod = _top_level(t, "×")
    if len(prod) > 1:
        return "prod", len(prod)
    if t == "Prop":
        return "prop", 0
    head = t.split()[0] if t.split() else ""
    if head in ("Set", "Finset", "Multiset") or re.fullmatch(r"Set\s.*|Finset\s.*", t):
        return "set", 0
    if t in ("ℕ", "ℤ", "ℚ", "ℝ", "ℂ", "ℕ∞", "ENNReal", "NNReal", "ℝ≥0", "ℝ≥0∞", "EReal", "Nat", "Int", "Rat", "Real"):
        return "number", 0
    return "other", 0


def _disagree(term: tuple[str, int], typ: tuple[str, int]) -> str | None:
    tk, tn = term
    yk, yn = typ
    if yk == "fun":
        if tk in ("tuple", "set", "bool", "number"):
            return f"a {tk} where a function is expected"
        if tk == "fun" and tn > yn:
            return f"fun with {tn} binders for a type with {yn} arguments"
        return None
    if tk == "fun":
        return "a function where a value is expected"
    if yk == "prod":
        if tk in ("set", "bool", "number"):
            return f"a {tk} where a tuple is expected"
        if tk == "tuple" and tn != yn:
            return f"a tuple of {tn} parts for a product of {yn}"
        return None
    if tk == "tuple":
        return "a tuple where a single value is expected"
    if yk == "prop" and tk in ("set", "number"):
        return f"a {tk} where a proposition is expected"
    if yk == "set" and tk in ("bool", "number"):
        return f"a {tk} where a set is expected"
    if yk == "number" and tk in ("set", "bool"):
        return f"a {tk} where a number is expected"
    return None


# ---------------------------------------------------------------------------------------------------
# Theorems


def _replace_names(text: str, names: dict[str, str], start: int = 0) -> str:
    """``text`` with every identifier token in ``names`` (from ``start`` on) replaced by its value."""
    out, last = [], 0
    for t in tokenize(text):
        if t.start < start or t.kind != IDENT or t.text not in names:
            continue
        out.append(text[last : t.start])
        out.append(names[t.text])
        last = t.end
    out.append(text[last:])
    return "".join(out)


def _inlined(p: AnswerPlaceholder) -> str:
    ans = p.answer or ""
    return f"(({ans}) : {p.type})"


def problem_theorem(problem: PutnamProblem, answers: str = "inline", meta: dict[str, Any] | None = None) -> Theorem:
    """The `Theorem` of one problem in answer mode ``answers`` (see the module docstring)."""
    if answers not in ANSWER_MODES:
        raise UserError(f"unknown answer mode {answers!r}: expected one of {', '.join(ANSWER_MODES)}")
    text = problem.text
    meta = dict(meta or {})
    meta["answers"] = answers if problem.placeholders else None
    meta["answer_placeholders"] = [p.name for p in problem.placeholders]
    if answers == "inline":
        usable = {p.name: _inlined(p) for p in problem.placeholders if not p.problem}
        kept = [p for p in problem.placeholders if p.problem]
        # Drop the usable placeholders and their comments; the rest stay `sorry` (comment removed too).
        pieces, last = [], 0
        for p in problem.placeholders:
            a, b = p.span
            pieces.append(text[last:a])
            if p in kept:
                pieces.append(f"{p.head} := sorry\n")
            last = b
        pieces.append(text[last:])
        shifted = "".join(pieces)
        offset = len(text) - len(shifted)
        header_end = problem.header_end - offset
        ts, te = problem.theorem_span[0] - offset, problem.theorem_span[1] - offset
        header = _replace_names(shifted[:header_end], usable)
        statement = _replace_names(shifted[ts:te], usable)
        if kept:
            meta["answer_problems"] = list(problem.answer_problems)
    else:
        pieces, last = [], 0
        for p in problem.placeholders:
            a, b = p.span
            pieces.append(text[last:a])
            pieces.append(f"{p.head} := sorry\n")
            last = b
        pieces.append(text[last:])
        shifted = "".join(pieces)
        offset = len(text) - len(shifted)
        header = shifted[: problem.header_end - offset]
        statement = problem.statement
        meta.pop("informal_solution", None)  # it states the answer
        meta["answer_heads"] = [p.head for p in problem.placeholders]
    header = re.sub(r"\n{3,}", "\n\n", header).rstrip("\n") + "\n\n"
    return Theorem(name=problem.name, statement=statement, header=header, source=meta.get("origin", ""), meta=meta)


def theorem_from_row(row: dict[str, Any], where: str, answers: str = "inline") -> Theorem:
    """A ``putnambench_lean4.jsonl`` row (``name, lean4_file, informal_statement, informal_solution, tags,
    source``) to a `Theorem`."""
    if not isinstance(row, dict):
        raise PutnamError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for k in ("name", "lean4_file"):
        if not isinstance(row.get(k), str) or not row[k].strip():
            raise PutnamError(f"{where}: missing or empty field {k!r}")
    problem = parse_problem(row["lean4_file"], row["name"], where)
    tags = row.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PutnamError(f"{where}: field 'tags' must be a list of strings")
    sol = row.get("informal_solution")
    src = row.get("source") if isinstance(row.get("source"), dict) else {}
    meta: dict[str, Any] = {
        "split": "test",
        "key": row["name"],
        "origin": where,
        "known_issue": row.get("known_issue") or None,
        "informal_statement": row.get("informal_statement") or problem.doc or "",
        "informal_solution": None if sol in (None, "None.", "null") else sol,
        "subjects": list(tags),
        "upstream": src.get("path", ""),
        "lean_toolchain": src.get("lean_toolchain") or row.get("lean_toolchain"),
    }
    return problem_theorem(problem, answers, meta)


# ---------------------------------------------------------------------------------------------------
# Answer-free mode: a model's text that defines the placeholders


def instantiate_answers(theorem: Theorem, text: str) -> tuple[Theorem, str]:
    """For an answer-free theorem (``meta["answers"] == "free"``) and a model's text that defines its
    placeholders: ``(theorem', text')`` for the soundness gate, where theorem' has the text's placeholder
    definitions in place of the ``sorry`` ones in its header, and text' is the text after the last of them.

    Each placeholder must be defined once, with its head unchanged (``abbrev NAME : TYPE``; ``noncomputable`` may be
    added or left out), a ``:=`` body and no attributes, other modifiers or ``… in`` prefix; only the declaration
    itself moves into the header. What the text has before the definitions (its imports, opens, a copy of the
    header) is replaced by the theorem's own header; everything after them stays in text', where the gate screens it
    and checks the statement against the original in the new header's environment. The theorem's axiom audit covers
    the answers (its statement mentions them). Raises `UserError` (one line) when the text does not define them as
    required.
    """
    if theorem.meta.get("answers") != "free":
        return theorem, text
    names = list(theorem.meta.get("answer_placeholders") or [])
    heads = dict(zip(names, theorem.meta.get("answer_heads") or [], strict=True))
    src = scan(text)
    if src.problems:
        p = src.problems[0]
        raise UserError(f"the text cannot be read at {p.line}:{p.column}: {p.message}")
    found: dict[str, Any] = {}
    for d in src.declarations:
        if d.name in heads:
            if d.name in found:
                raise UserError(f"the text defines the answer {d.name} twice")
            found[d.name] = d
    missing = [n for n in heads if n not in found]
    if missing:
        raise UserError(f"the text does not define the answer {', '.join(missing)}")
    defs: dict[str, str] = {}
    for name, head in heads.items():
        d = found[name]
        if set(d.modifiers) - {"noncomputable"} or d.attributes or d.outer_start != d.start:
            raise UserError(
                f"the answer {name} must be a plain `{head} := …` (no attributes, other modifiers or prefixes)"
            )
        if _code(text[d.keyword : d.statement_end]) != _code(_after_modifiers(head)):
            raise UserError(f"the head of the answer {name} was changed (expected `{head}`)")
        if d.delimiter != ":=" or d.proof is None:
            raise UserError(f"the answer {name} has no `:=` body")
        defs[name] = text[d.head : d.end]
    header = theorem.header
    for name, head in heads.items():
        placeholder = f"{head} := sorry\n"
        if placeholder not in header:
            raise UserError(f"the theorem's header has no placeholder {name}")
        header = header.replace(placeholder, defs[name].rstrip() + "\n", 1)
    body = text[max(d.end for d in found.values()) :]
    return replace(theorem, header=header, meta=dict(theorem.meta, answers="given")), body


def _after_modifiers(head: str) -> str:
    return re.sub(r"^\s*noncomputable\s+", "", head)


def _code(text: str) -> tuple[str, ...]:
    return tuple(t.text for t in tokenize(text) if t.kind != COMMENT)
