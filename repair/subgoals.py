"""Sub-goals: a goal as Lean prints it (a REPL ``sorries[i].goal``, an ``unsolved goals`` message) turned into
a stand-alone lemma statement, and the tactic that closes the goal with that lemma at the ``sorry``.

Lean prints a goal as optional ``case tag`` line, one line per hypothesis group (``x y : ℕ``, continuation
lines indented), and ``⊢ target``. `parse_goal` reads that; `sub_lemma` makes

    theorem NAME.{u} (x y : ℕ) [Fintype α] (h : P x) (n : ℕ) (hn : n = 5) :
        target := by

with these conventions:

* inaccessible names (``x✝``, ``a✝¹``, shadowed ``R✝``) get fresh names (``x_1``, ``R_1``), consistently in
  every later hypothesis and in the target; the call site first gives the context the same names with
  ``rename_i`` (it renames the inaccessible hypotheses, in order);
* ``inst✝ : C α`` (an anonymous instance) becomes ``[C α]``, found by instance resolution at the call;
* a ``let`` variable ``n : ℕ := 5`` becomes ``(n : ℕ) (n_def : n = 5)``; the call passes ``rfl`` (the lemma
  is then no easier than the goal, and closes it);
* universe names used in ``Type u`` / ``Sort u`` become the lemma's universe parameters;
* a goal with metavariables (``?m.12``) cannot be stated: `sub_lemma` raises `GoalNotStatable`.

Whether the text means the same thing to Lean depends on how the goal was printed: with the pretty-printer
options of ``repair.pp_options`` (APOLLO's list, `repair.config.PP_OPTIONS`) binders and coercions carry
their types and re-parse; with Lean's defaults ``↑x`` may elaborate to another coercion. So the statement is
always checked by Lean (it must elaborate, and ``exact NAME args`` must close the goal at the ``sorry``)
before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_INACCESSIBLE_RE = re.compile(r"(?<![\w'.!?✝])[\w'!?]+✝[" + _SUPERSCRIPT + r"]*")
_UNIVERSE_RE = re.compile(r"(?<![\w'.])(?:Type|Sort)\s*(?:\(\s*(?:max|imax)\s+([^)]*)\)|([a-z_][\w']*))|\.\{([^}]*)\}")
_UNIV_NAME_RE = re.compile(r"(?<![\w'])[a-z_][\w']*")


class GoalNotStatable(ValueError):
    """The goal cannot be written as a lemma (metavariables, nothing after ``⊢``, unreadable hypothesis)."""


@dataclass(frozen=True)
class Hypothesis:
    names: tuple[str, ...]
    type: str
    value: str | None = None  # a `let` variable's value

    @property
    def is_instance(self) -> bool:
        return all(n.startswith("inst✝") for n in self.names)


@dataclass(frozen=True)
class Goal:
    hyps: tuple[Hypothesis, ...]
    target: str
    case: str | None = None

    @property
    def names(self) -> list[str]:
        return [n for h in self.hyps for n in h.names]


@dataclass(frozen=True)
class SubLemma:
    name: str
    statement: str  # `theorem NAME … : target := by` (ends with `:= by`, a `Theorem.statement`)
    call: str  # tactic text that closes the goal at the sorry with the lemma
    renamed: tuple[tuple[str, str], ...]  # (inaccessible name, fresh name)
    goal: Goal

    def sorried(self) -> str:
        return f"{self.statement} sorry"


def split_goals(text: str) -> list[str]:
    """The goals of a multi-goal text (``unsolved goals`` lists them separated by a blank line)."""
    body = text.split("\n", 1)[1] if text.startswith("unsolved goals") else text
    return [g for g in re.split(r"\n\s*\n", body) if "⊢" in g]


def _depth0_find(s: str, needle: str) -> int:
    depth = 0
    i = 0
    while i <= len(s) - len(needle):
        c = s[i]
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth = max(0, depth - 1)
        elif depth == 0 and s.startswith(needle, i):
            return i
        i += 1
    return -1


def parse_goal(text: str) -> Goal:
    """One goal as Lean prints it."""
    lines = text.rstrip("\n").split("\n")
    case = None
    if lines and lines[0].startswith("case "):
        case = lines[0][5:].strip()
        lines = lines[1:]
    entries: list[str] = []
    target_lines: list[str] | None = None
    for line in lines:
        if target_lines is not None:
            target_lines.append(line)
        elif line.startswith("⊢"):
            target_lines = [line[1:].strip()]
        elif line[:1].isspace() and entries:
            entries[-1] += "\n" + line
        elif line.strip():
            entries.append(line)
    if target_lines is None:
        raise GoalNotStatable("no ⊢ in the goal")
    hyps = []
    for e in entries:
        k = e.find(" :")
        if k <= 0:
            raise GoalNotStatable(f"cannot read the hypothesis {e.splitlines()[0]!r}")
        names = tuple(e[:k].split())
        rest = e[k + 2 :]
        value = None
        j = _depth0_find(rest, " := ")
        if j >= 0:
            rest, value = rest[:j], rest[j + 4 :]
        hyps.append(Hypothesis(names, _one_line(rest), _one_line(value) if value is not None else None))
    return Goal(tuple(hyps), _one_line("\n".join(target_lines)), case)


def _one_line(s: str) -> str:
    return " ".join(s.split())


def _fresh(base: str, taken: set[str]) -> str:
    base = base.rstrip("'") or "x"
    k = 1
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"


def sub_lemma(goal: Goal | str, name: str) -> SubLemma:
    """The lemma stating ``goal`` (see the module docstring) and the tactic text that uses it at the sorry."""
    if isinstance(goal, str):
        goal = parse_goal(goal)
    if "?" in goal.target and re.search(r"\?[\w.]+", goal.target) or any(
        re.search(r"\?m\.\d+|\?u\.\d+", h.type) for h in goal.hyps
    ):
        raise GoalNotStatable("the goal has metavariables")
    taken = {n for n in goal.names if "✝" not in n}
    renames: dict[str, str] = {}
    order: list[str] = []  # inaccessible names in context order (for rename_i)
    for h in goal.hyps:
        for n in h.names:
            if "✝" in n:
                order.append(n)
                if not h.is_instance:
                    fresh = _fresh(n.split("✝", 1)[0], taken)
                    taken.add(fresh)
                    renames[n] = fresh

    def rn(s: str) -> str:
        return _INACCESSIBLE_RE.sub(lambda m: renames.get(m.group(0), m.group(0)), s)

    binders: list[str] = []
    args: list[str] = []
    universes: list[str] = []
    for h in goal.hyps:
        ty = rn(h.type)
        for u in _universes(ty):
            if u not in universes:
                universes.append(u)
        if h.is_instance:
            binders.extend(f"[{ty}]" for _ in h.names)
            continue
        names = [renames.get(n, n) for n in h.names]
        if h.value is not None:
            for n in names:
                eq = f"{n}_def" if f"{n}_def" not in taken else _fresh(f"{n}_def", taken)
                taken.add(eq)
                binders.append(f"({n} : {ty}) ({eq} : {n} = {rn(h.value)})")
                args += [n, "rfl"]
            continue
        binders.append(f"({' '.join(names)} : {ty})")
        args += names
    target = rn(goal.target)
    for u in _universes(target):
        if u not in universes:
            universes.append(u)
    univ = f".{{{', '.join(universes)}}}" if universes else ""
    head = f"theorem {name}{univ}"
    stmt = head + (" " + " ".join(binders) if binders else "") + f" :\n    {target} := by"
    fresh_order = [renames.get(n, "_") for n in order]
    call = ""
    if order:
        call = "rename_i " + " ".join(fresh_order) + "\n"
    call += f"exact {name}" + ("".join(f" {_arg(a)}" for a in args))
    return SubLemma(name, stmt, call, tuple(renames.items()), goal)


def _arg(a: str) -> str:
    return a if re.fullmatch(r"[^\s()]+", a) else f"({a})"


def _universes(ty: str) -> list[str]:
    """Universe names in ``Type u``, ``Sort (max u v)``, ``f.{u, v}`` (numerals and ``max`` left out)."""
    out = []
    for m in _UNIVERSE_RE.finditer(ty):
        if m.group(2):
            out.append(m.group(2))
        else:
            out += [u for u in _UNIV_NAME_RE.findall(m.group(1) or m.group(3) or "") if u not in ("max", "imax")]
    return out
