"""Reading Lean's pretty-printed goals: hypotheses, target and case tag of each goal.

This is the other direction from `prover.lean.syntax` (which reads Lean *source*): here the text is what
Lean prints for a goal (REPL ``goals`` / ``sorries[].goal``, LeanDojo ``state_before``, the body of an
``unsolved goals`` error), in the shape of ``Lean.Meta.ppGoal``:

* an optional ``case TAG`` first line;
* one entry per hypothesis group ``x y : T`` (or ``x : T := v`` for a ``let``), Lean prints several names
  for consecutive hypotheses of the same type;
* the target ``⊢ T``;
* an entry that does not fit the line width continues on lines that start with whitespace;
* several goals are separated by a blank line (``unsolved goals`` messages put the word and a newline first).

Texts are kept as Lean printed them (line breaks included); `flat` collapses whitespace for places where
a term has to sit on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TURNSTILE = "⊢"
UNSOLVED = "unsolved goals"
_WS = re.compile(r"\s+")
_NAME_SEP = re.compile(r" :(?:[ \n]|$)")


def flat(text: str) -> str:
    """``text`` with every run of whitespace (Lean's own line breaks included) replaced by one space."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Hypothesis:
    names: tuple[str, ...]
    type: str
    value: str | None = None  # the value of a ``let``-bound hypothesis (``x : T := v``)


@dataclass(frozen=True, slots=True)
class Goal:
    hypotheses: tuple[Hypothesis, ...]
    target: str
    case: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for h in self.hypotheses for n in h.names)

    def type_of(self, name: str) -> str | None:
        """The type of the *last* hypothesis called ``name`` (a later one shadows an earlier one)."""
        for h in reversed(self.hypotheses):
            if name in h.names:
                return h.type
        return None

    def pp(self) -> str:
        """The goal printed back in Lean's shape (one line per hypothesis group)."""
        lines = [f"case {self.case}"] if self.case else []
        for h in self.hypotheses:
            v = f" := {h.value}" if h.value is not None else ""
            lines.append(f"{' '.join(h.names)} : {h.type}{v}")
        lines.append(f"{TURNSTILE} {self.target}")
        return "\n".join(lines)


class GoalParseError(ValueError):
    """The text is not a goal as Lean prints it."""


def _entries(text: str) -> list[str]:
    """Lines of one goal with continuation lines (leading whitespace) joined to the line they continue."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        if line[0].isspace() and out:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def _split_top(text: str, sep: str) -> tuple[str, str] | None:
    """Split at the first ``sep`` outside brackets."""
    depth = 0
    i, n, k = 0, len(text), len(sep)
    while i < n:
        c = text[i]
        if c in "([{⟨⦃⟦":
            depth += 1
        elif c in ")]}⟩⦄⟧":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            return text[:i], text[i + k :]
        i += 1
    return None


def parse_goal(text: str) -> Goal:
    """One goal (``case`` line optional). Raises `GoalParseError` when there is no ``⊢`` entry."""
    entries = _entries(text)
    case = None
    if entries and entries[0].startswith("case ") and TURNSTILE not in entries[0].split("\n")[0]:
        case = entries[0][len("case ") :].strip()
        entries = entries[1:]
    hyps: list[Hypothesis] = []
    target: str | None = None
    for i, e in enumerate(entries):
        if e.startswith(TURNSTILE):
            if i != len(entries) - 1:
                raise GoalParseError(f"text after the target: {entries[i + 1][:60]!r}")
            target = e[len(TURNSTILE) :].strip()
            break
        # `x y : T` — names never contain " :", so the first one separates names and type (a long type
        # starts on the next line: Lean breaks the line right after " :")
        mm = _NAME_SEP.search(e)
        if mm is None or mm.start() == 0:
            raise GoalParseError(f"not a hypothesis: {e[:60]!r}")
        names = tuple(e[: mm.start()].split())
        rest = e[mm.end() :]
        value = None
        split = _split_top(rest, " := ")
        if split is not None:
            rest, value = split[0], split[1].strip()
        hyps.append(Hypothesis(names, rest.strip(), value))
    if target is None:
        raise GoalParseError(f"no {TURNSTILE} in goal {text[:80]!r}")
    return Goal(tuple(hyps), target, case)


def split_goals(text: str) -> list[str]:
    """The goals of a multi-goal text (separated by blank lines)."""
    return [g for g in re.split(r"\n[ \t]*\n", text.strip("\n")) if g.strip()]


def parse_goals(text: str) -> list[Goal]:
    """Every goal of a multi-goal text; ``""`` (no goals) is ``[]``."""
    return [parse_goal(g) for g in split_goals(text)]


def unsolved_goals(message: str) -> list[Goal] | None:
    """The goals listed by an ``unsolved goals`` error message, or ``None`` if it is another message."""
    text = message.strip("\n")
    if not text.startswith(UNSOLVED):
        return None
    rest = text[len(UNSOLVED) :]
    if rest and rest[0] != "\n":
        return None
    try:
        return parse_goals(rest.lstrip("\n"))
    except GoalParseError:
        return None
