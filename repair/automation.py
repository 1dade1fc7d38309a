"""Automation on sorries: a portfolio of tactics tried, in tactic mode, on the REPL proof state of each
``sorry`` (no file is recompiled), portfolio entry by entry over all open sorries.

The default portfolio is APOLLO's: ``hint`` (Mathlib's kitchen sink: it runs the registered hint tactics and
reports the ones that succeed), then one chain ``try norm_cast; try norm_num; try simp_all; try ring_nf at *;
try linarith; try nlinarith``. APOLLO's chain also has ``try native_decide``; it is left out here because
``native_decide`` proofs rely on the ``Lean.ofReduceBool`` axiom, which the soundness gate rejects unless
``lean.allowed_axioms`` admits it (the config refuses the tactic otherwise). The portfolio is
``repair.automation`` (`repair.config`).

A tactic closes a sorry only if Lean answers ``Completed`` (no goal, no sorry, no error). What is spliced
back is the tactic itself, or, when Lean suggested a replacement (``Try this: …`` from ``exact?``; ``Try
these: • …`` from ``hint``), the first suggestion, which is then checked on the same proof state (one more
tactic call) so that the text put into the proof is the one Lean accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prover.lean.env import LeanEnv
from prover.lean.types import LeanException, LeanTimeout, Message, ProofFinished, TacticState

_TRY_THIS_RE = re.compile(r"Try this:\s*(.+)", re.S)


def suggestions(messages: Sequence[Message]) -> list[str]:
    """Tactics Lean suggested in its info messages: ``Try this: t`` and ``Try these:`` + ``• t`` lines (the
    suggestions that leave goals, ``Remaining subgoals:``, are skipped)."""
    out: list[str] = []
    for m in messages:
        data = m.data.strip()
        if data.startswith("Try these:"):
            cur: list[str] = []
            for line in data.split("\n")[1:]:
                s = line.strip()
                if s.startswith("•"):
                    if cur:
                        out.append(" ".join(cur))
                    cur = [s[1:].strip()]
                elif s.startswith("Remaining subgoals"):
                    cur = []
                elif cur and s and not s.startswith("⊢"):
                    cur.append(s)
            if cur:
                out.append(" ".join(cur))
        else:
            mt = _TRY_THIS_RE.match(data)
            if mt:
                out.append(" ".join(mt.group(1).split("\n")[0].split()))
    return [s for s in out if s and "sorry" not in s]


@dataclass
class AutomationResult:
    closed: dict[int, str] = field(default_factory=dict)  # sorry index → tactic text to splice
    by_entry: dict[int, str] = field(default_factory=dict)  # sorry index → portfolio entry that closed it
    calls: int = 0
    timeouts: int = 0
    crashes: int = 0  # Lean crashed on an entry (the env recovers; the attempt, if unproved, is an error)
    stopped: str | None = None  # "budget" when the budget cut the portfolio short


def run_portfolio(
    env: LeanEnv,
    states: Sequence[TacticState | None],
    portfolio: Sequence[str],
    *,
    timeout: float | None = None,
    can_continue: Callable[[], bool] = lambda: True,
) -> AutomationResult:
    """Try each portfolio entry on every still-open sorry state (entry-major, so the cheap entries reach all
    sorries before an expensive one runs). ``can_continue`` is asked before each call (budgets)."""
    res = AutomationResult()
    open_ = [i for i, s in enumerate(states) if s is not None]
    for entry in portfolio:
        for i in list(open_):
            if not can_continue():
                res.stopped = "budget"
                return res
            state = states[i]
            assert state is not None
            try:
                out = env.run_tactic(state, entry, timeout)
            except LeanTimeout:
                res.timeouts += 1
                res.calls += 1
                continue
            except LeanException:
                res.crashes += 1
                res.calls += 1
                continue
            res.calls += 1
            if not isinstance(out, ProofFinished):
                continue
            text = entry
            for s in suggestions(out.messages):
                try:
                    check = env.run_tactic(state, s, timeout)
                    res.calls += 1
                except LeanException:
                    res.calls += 1
                    continue
                if isinstance(check, ProofFinished):
                    text = s
                    break
            if text.strip() in ("hint", "exact?", "apply?") or text.startswith(("hint ", "exact? ")):
                continue  # no checked suggestion: a search tactic in a proof would be redone at every check
            res.closed[i] = text
            res.by_entry[i] = entry
            open_.remove(i)
        if not open_:
            break
    return res


def pp_trace_tactic(options: Sequence[str]) -> str:
    """``set_option o true in … trace_state``: prints the goal with ``options`` on (a REPL info message)."""
    return "".join(f"set_option {o} true in " for o in options) + "trace_state"


def goal_with_options(env: LeanEnv, state: TacticState, options: Sequence[str], timeout: float | None = None) -> str:
    """The goal of ``state`` printed with the pretty-printer ``options`` (falls back to the state's own text
    when Lean does not answer with one info message holding a ``⊢``)."""
    if not options:
        return state.pp
    try:
        out = env.run_tactic(state, pp_trace_tactic(options), timeout)
    except LeanException:
        return state.pp
    infos = [m.data for m in out.messages if not m.is_error and "⊢" in m.data]
    return infos[0] if len(infos) == 1 else state.pp
