"""Mutated statements and their proofs, built from a source theorem's text and Lean's new goal.

A statement is read with the project's one Lean reader (`prover.lean.syntax`) into a `Signature`: the binder
groups before the top-level ``:`` and the conclusion after it. A mutation replaces one part of it by what Lean
printed after the tactic (Alchemy, arXiv 2410.15748, §3):

* ``rw [T]`` / ``rw [← T]`` on the goal: the conclusion becomes the new target. Proof: the original proof as
  ``have h : OLD := …``, then ``rw [T] at h; exact h`` (the same rewrite on the same term gives the same result);
* ``rw [T] at h``: the binder of ``h`` gets the new type. Proof: ``have h : OLD := by rwa [T]`` (rewriting OLD
  as the discovery step rewrote ``h`` gives exactly ``h``'s new type), then the original proof;
* ``have h : P := by apply T`` leaving goals ``G₁ … Gₙ``: the binder of ``h`` is replaced by ``(h₁ : G₁) …``.
  Proof: ``have h : P := by apply T <;> assumption``, then the original proof.

Only the replaced part comes from Lean's printer (with the pretty-printer options of ``mutate.pp_options`` so it
re-parses); binders stay as written, so ``variable``s, auto-bound implicits and notation keep working at the
theorem's place. `junk_reason` and `same_up_to_printing` drop what is not worth verifying.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from prover.lean.goals import flat
from prover.lean.syntax import IDENT, SYMBOL, Token, code_tokens

OPENERS = {"(": ")", "{": "}", "[": "]", "⦃": "⦄", "{{": "}}", "⟨": "⟩", "⟦": "⟧"}
CLOSERS = frozenset(OPENERS.values())
BINDER_OPENERS = ("(", "{", "[", "⦃", "{{")


class StatementError(ValueError):
    """The statement cannot be read or changed the way a mutation needs (one line)."""


@dataclass(frozen=True, slots=True)
class Binder:
    bracket: str  # ( { [ ⦃ {{ ; "" for a bare identifier binder
    names: tuple[str, ...]  # () for an anonymous instance binder `[Foo α]`
    type: str | None  # None for `(x)` / bare `x`
    start: int  # offsets into the statement text: the whole group
    end: int


@dataclass(frozen=True, slots=True)
class Signature:
    """``theorem NAME BINDERS : CONCLUSION`` read from ``text`` (which ends before ``:=``)."""

    text: str
    name_span: tuple[int, int]
    binders: tuple[Binder, ...]
    colon: int  # offset of the top-level `:`
    conclusion: str  # text after the colon, as written

    @property
    def name(self) -> str:
        return self.text[self.name_span[0] : self.name_span[1]]

    def binder_of(self, name: str) -> Binder | None:
        """The group that binds ``name`` (the last one: a later binder shadows an earlier one)."""
        for b in reversed(self.binders):
            if name in b.names:
                return b
        return None

    @property
    def bound_names(self) -> frozenset[str]:
        return frozenset(n for b in self.binders for n in b.names)


def _match_close(toks: list[Token], i: int) -> int:
    """Index of the token closing the bracket opened at ``toks[i]`` (or ``len(toks)``)."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j].text
        if toks[j].kind != SYMBOL:
            continue
        if t in OPENERS:
            depth += 1
        elif t in CLOSERS:
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def parse_signature(text: str) -> Signature:
    """Read ``[prefixes] theorem|lemma NAME binders : conclusion`` (the text before ``:=``)."""
    toks = code_tokens(text)
    k = next((i for i, t in enumerate(toks) if t.kind == IDENT and t.text in ("theorem", "lemma")), None)
    if k is None or k + 1 >= len(toks) or toks[k + 1].kind != IDENT:
        raise StatementError("no `theorem NAME` in the statement")
    name_tok = toks[k + 1]
    i = k + 2
    if i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].text == "{" and toks[i].start == name_tok.end:
        i = _match_close(toks, i + 1) + 1  # universe parameters `foo.{u v}`
    binders: list[Binder] = []
    while i < len(toks):
        t = toks[i]
        if t.kind == SYMBOL and t.text in BINDER_OPENERS:
            j = _match_close(toks, i)
            if j >= len(toks):
                raise StatementError(f"unclosed {t.text!r} in the binders")
            binders.append(_binder(text, toks, i, j))
            i = j + 1
        elif t.kind == IDENT or (t.kind == SYMBOL and t.text == "_"):
            binders.append(Binder("", (t.text,), None, t.start, t.end))
            i += 1
        else:
            break
    if i >= len(toks) or toks[i].text != ":":
        raise StatementError("no top-level `:` after the binders")
    colon = toks[i].start
    return Signature(text, (name_tok.start, name_tok.end), tuple(binders), colon, text[colon + 1 :].strip())


def _binder(text: str, toks: list[Token], i: int, j: int) -> Binder:
    opener = toks[i].text
    inner = toks[i + 1 : j]
    colon = None
    depth = 0
    for n, t in enumerate(inner):
        if t.kind == SYMBOL and t.text in OPENERS:
            depth += 1
        elif t.kind == SYMBOL and t.text in CLOSERS:
            depth -= 1
        elif depth == 0 and t.kind == SYMBOL and t.text in (":", ":="):
            colon = n if t.text == ":" else colon
            break
    start, end = toks[i].start, toks[j].end
    if colon is None:
        if opener == "[":
            return Binder(opener, (), text[toks[i].end : toks[j].start].strip(), start, end)
        names = tuple(t.text for t in inner if t.kind == IDENT or t.text == "_")
        return Binder(opener, names, None, start, end)
    names = tuple(t.text for t in inner[:colon] if t.kind == IDENT or t.text == "_")
    type_end = toks[j].start
    for t in inner[colon + 1 :]:  # a default value `(x : α := v)` / auto-param `(h : p := by simp)`
        if t.kind == SYMBOL and t.text == ":=":
            type_end = t.start
            break
    ty = text[inner[colon].end : type_end].strip()
    return Binder(opener, names, ty, start, end)


# ---------------------------------------------------------------------------------------------------
# Changing a statement


def rename(sig: Signature, new_name: str) -> str:
    a, b = sig.name_span
    return sig.text[:a] + new_name + sig.text[b:]


def with_conclusion(sig: Signature, conclusion: str, *, name: str | None = None) -> str:
    """The statement with a new conclusion (and optionally a new name)."""
    head = sig.text[: sig.colon + 1]
    if name is not None:
        a, b = sig.name_span
        head = head[:a] + name + head[b:]
    return f"{head} {flat(conclusion)}"


def with_binder_replaced(sig: Signature, hyp: str, new: list[tuple[str, str]], *, name: str | None = None) -> str:
    """The statement with hypothesis ``hyp`` replaced by the explicit binders ``new`` (name, type), in place.

    In a group of several names only ``hyp`` changes: ``(h h' : P)`` → ``(h : P') (h' : P)``.
    """
    b = sig.binder_of(hyp)
    if b is None or b.type is None or b.bracket in ("[", ""):
        raise StatementError(f"{hyp} is not bound by a typed binder of the statement")
    close = OPENERS[b.bracket]
    groups: list[str] = []
    for n in b.names:
        if n == hyp:
            groups += [f"({m} : {flat(t)})" for m, t in new]
        else:
            groups.append(f"{b.bracket}{n} : {b.type}{close}")
    text = sig.text[: b.start] + " ".join(groups) + sig.text[b.end :]
    if name is not None:
        a, e = sig.name_span
        if a < b.start:
            text = text[:a] + name + text[e:]
    return text


def hypothesis_type(sig: Signature, hyp: str) -> str | None:
    b = sig.binder_of(hyp)
    return b.type if b is not None else None


# ---------------------------------------------------------------------------------------------------
# Proofs


def _block(proof: str) -> tuple[str, bool]:
    """``(body, is_tactic)`` of a proof text (what follows ``:=``): the tactic block after ``by``, else the term."""
    s = proof.strip("\n")
    stripped = s.lstrip()
    if re.match(r"by(?![\w'!?])", stripped):
        return stripped[2:], True
    return stripped, False


def _indent(text: str, spaces: int) -> str:
    """Shift every line of a block so that its least indented line starts at ``spaces`` columns."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    first = lines[0]
    rest = [ln for ln in lines[1:] if ln.strip()]
    base = min([len(ln) - len(ln.lstrip()) for ln in rest], default=0)
    out = [" " * spaces + first.strip()]
    for ln in lines[1:]:
        out.append((" " * spaces + ln[base:]) if ln.strip() else "")
    return "\n".join(out)


def _as_tactics(proof: str, spaces: int) -> str:
    """The original proof as tactic lines at ``spaces`` columns (a term proof becomes ``exact``)."""
    body, tactic = _block(proof)
    if tactic:
        return _indent(body, spaces)
    if "\n" not in body.strip():
        return " " * spaces + "exact " + body.strip()
    return " " * spaces + "exact\n" + _indent(body, spaces + 2)


def _have(name: str, prop: str, proof: str, spaces: int) -> str:
    """``have name : prop := <proof>`` at ``spaces`` columns, the proof block indented under it."""
    body, tactic = _block(proof)
    pad = " " * spaces
    if tactic:
        inner = body.strip()
        if "\n" not in inner:
            return f"{pad}have {name} : {flat(prop)} := by {inner}"
        return f"{pad}have {name} : {flat(prop)} := by\n{_indent(body, spaces + 2)}"
    if "\n" not in body.strip():
        return f"{pad}have {name} : {flat(prop)} := {body.strip()}"
    return f"{pad}have {name} : {flat(prop)} :=\n{_indent(body, spaces + 2)}"


def rw_rule(premise: str, reverse: bool) -> str:
    return f"← {premise}" if reverse else premise


def goal_rewrite_proof(old_conclusion: str, original_proof: str, premise: str, reverse: bool, fresh: str) -> str:
    """Proof of ``… : NEW`` from the original proof of ``… : OLD`` (``rw [T]`` turned OLD into NEW)."""
    return (
        "by\n"
        + _have(fresh, old_conclusion, original_proof, 2)
        + f"\n  rw [{rw_rule(premise, reverse)}] at {fresh}\n  exact {fresh}"
    )


def hyp_rewrite_proof(hyp: str, old_type: str, original_proof: str, premise: str, reverse: bool) -> str:
    """Proof when ``rw [T] at hyp`` turned ``hyp : OLD`` into ``hyp : NEW`` (the statement binds NEW)."""
    return (
        f"by\n  have {hyp} : {flat(old_type)} := by rwa [{rw_rule(premise, reverse)}]\n"
        + _as_tactics(original_proof, 2)
    )


def apply_proof(hyp: str, old_type: str, original_proof: str, premise: str) -> str:
    """Proof when ``hyp : OLD`` was replaced by the goals ``apply T`` leaves for OLD."""
    return f"by\n  have {hyp} : {flat(old_type)} := by apply {premise} <;> assumption\n" + _as_tactics(
        original_proof, 2
    )


# ---------------------------------------------------------------------------------------------------
# Names, sameness, junk


def fresh_name(written_name: str, statement_body: str) -> str:
    """``NAME_mut_<hash>``: deterministic in the new statement, so a resumed run names a mutant the same."""
    h = hashlib.sha1(flat(statement_body).encode()).hexdigest()[:8]
    return f"{written_name}_mut_{h}"


def fresh_hypothesis(base: str, taken: set[str], n: int) -> list[str]:
    """``n`` hypothesis names derived from ``base`` (``h₁``, ``h₂``, …) that are not in ``taken``."""
    subs = "₁₂₃₄₅₆₇₈₉"
    out: list[str] = []
    k = 0
    while len(out) < n:
        k += 1
        cand = base + (subs[k - 1] if k <= len(subs) else f"_{k}")
        if cand not in taken and cand not in out:
            out.append(cand)
    return out


_COERCION = re.compile(r"[↑⇑↥]")


def _compare_form(text: str) -> str:
    return re.sub(r"[\s()]", "", _COERCION.sub("", text))


def same_up_to_printing(old: str, new: str) -> bool:
    """Alchemy's test: equal up to spaces, coercion arrows and parentheses."""
    return _compare_form(old) == _compare_form(new)


# What Lean prints but cannot read back (or internal forms nobody writes): never worth verifying.
_JUNK: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("✝"), "an inaccessible name (✝)"),
    (re.compile("⋯"), "an elided proof (⋯)"),
    (re.compile(r"(?<![\w'])\?[\w_]"), "a metavariable (?x)"),
    (re.compile(r"\bsorry\b|sorryAx"), "sorry"),
    (re.compile(r"_hyg|_uniq|_private"), "an internal name"),
    (re.compile(r"\.byteIdx|OfNat\.ofNat|instOfNat|\binst[A-Z]\w*"), "an internal term (raw numeral / instance)"),
)
MAX_STATEMENT_CHARS = 4000


def junk_reason(printed: str) -> str | None:
    """Why a term Lean printed is not usable in a statement, or ``None``."""
    for rx, why in _JUNK:
        if rx.search(printed):
            return why
    if len(printed) > MAX_STATEMENT_CHARS:
        return f"longer than {MAX_STATEMENT_CHARS} characters"
    return None


def mentions(text: str, name: str) -> bool:
    """Whether the Lean code ``text`` names ``name`` (an identifier, or its last component)."""
    last = name.rsplit(".", 1)[-1]
    return any(t.kind == IDENT and t.text in (name, last) for t in code_tokens(text))
