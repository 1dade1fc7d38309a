"""The repair loop on one proof text (APOLLO, with the step prover as an extra stage):

1. the text goes through the soundness gate as it is (stage ``raw``);
2. the syntax refiner (`repair.refine`), and the gate again if it changed anything (stage ``refiner``);
3. sorrify rounds: Lean's errors → `repair.sorrify.sorrify_step` → Lean again, until Lean reports only
   sorries (at most ``max_rounds``; then the whole proof becomes ``sorry``); a text that compiles without
   any sorry after that goes to the gate (stage ``sorrify``);
4. automation on each sorry, in tactic mode on its REPL proof state (`repair.automation`; stage
   ``automation``);
5. each sorry still open: the step prover's search from its proof state when a `SubgoalProver` is given
   (mode ``hybrid``; stage ``search``), then the whole-proof model on the sub-lemma stating its goal
   (`repair.subgoals`): sampled proofs through the gate (stage ``sublemma``), and, up to ``max_depth``, failed
   samples repaired by this same loop one level down (stage ``recursion``);
6. reassembly (`repair.reassemble`): tactic proofs spliced at their sorries, proved sub-lemmas placed before
   the theorem and used by name; the whole text through the gate, in the configured verify mode.

Budgets (`Budget`) are shared by everything one attempt does: Lean calls, wall time, samples and tokens.
What is left open is reported as `SubGoal`s, the goals as Lean states them. Every proof that comes out has
passed the gate; intermediate texts never leave this module as proofs.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prover.attempt import ProofAttempt
from prover.lean import syntax
from prover.lean.env import LeanEnv
from prover.lean.types import CheckResult, Message, TacticState, Theorem
from prover.models.base import ProofCandidate, ProofGenerator
from repair import reassemble as RA
from repair.automation import goal_with_options, run_portfolio
from repair.config import RepairConfig
from repair.messages import describe, errors
from repair.refine import refine
from repair.sorrify import sorrify_step
from repair.subgoals import GoalNotStatable, SubLemma, sub_lemma
from repair.tree import parse

log = logging.getLogger(__name__)

# Stages in the order a proof gets further from the model's own text (an attempt reports the furthest used);
# ``sketch``: a masked sketch that needed nothing filled (`repair.sketch`).
STAGES = ("raw", "refiner", "sketch", "sorrify", "automation", "search", "sublemma", "recursion")


class SubgoalProver(Protocol):
    """Proves one goal from its proof state (the step prover's search, in mode ``hybrid``)."""

    expansions: int  # search expansions spent so far, over every goal (reported in the attempt)

    def __call__(self, env: LeanEnv, state: TacticState, theorem: Theorem) -> list[str] | None: ...


@dataclass
class Budget:
    """What one attempt may spend; counters are shared by its candidates, sub-lemmas and recursion."""

    env: LeanEnv
    max_lean_calls: int | None = None
    time_limit: float | None = None
    start: float = field(default_factory=time.monotonic)
    calls0: int = 0
    samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __post_init__(self) -> None:
        self.calls0 = self.env_calls()

    def env_calls(self) -> int:
        return self.env.lean_calls

    @property
    def lean_calls(self) -> int:
        return self.env_calls() - self.calls0

    def exhausted(self) -> str | None:
        if self.max_lean_calls is not None and self.lean_calls >= self.max_lean_calls:
            return "lean_calls"
        if self.time_limit is not None and time.monotonic() - self.start >= self.time_limit:
            return "time"
        return None

    def time_left(self) -> float | None:
        return None if self.time_limit is None else max(0.0, self.time_limit - (time.monotonic() - self.start))

    def record(self, attempt: ProofAttempt, stats: dict[str, Any], expansions: int | None, t0: float) -> ProofAttempt:
        """What was spent, into ``attempt`` and its ``stats`` (the whole-proof and sketch modes record the same)."""
        attempt.samples = self.samples
        attempt.tokens = self.prompt_tokens + self.completion_tokens
        attempt.lean_calls = self.lean_calls
        stats.update(lean_calls=self.lean_calls, samples=self.samples, prompt_tokens=self.prompt_tokens,
                     completion_tokens=self.completion_tokens)  # fmt: skip
        if expansions is not None:
            attempt.expansions = expansions
        attempt.stats = stats
        attempt.time = time.monotonic() - t0
        return attempt

    def spend(self, cands: list[ProofCandidate]) -> None:
        self.samples += len(cands)
        self.completion_tokens += sum(c.completion_tokens for c in cands)
        self.prompt_tokens += max((c.prompt_tokens for c in cands), default=0)


@dataclass(frozen=True)
class SubGoal:
    goal: str  # as Lean printed it
    line: int  # of its sorry in ``RepairResult.text``
    column: int
    lemma: str | None = None  # a stand-alone statement, when one could be made


@dataclass
class RepairResult:
    proved: bool
    text: str  # the proof that passed the gate (proved), else the last text (sorries where goals are open)
    stage: str | None = None
    remaining: list[SubGoal] = field(default_factory=list)
    rounds: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # sorries closed per stage
    reason: str | None = None  # why it stopped short, one line
    check: CheckResult | None = None


class RepairLoop:
    """The loop of the module docstring over one env, with a whole-proof generator for sub-lemmas (optional)
    and a sub-goal prover (optional, mode ``hybrid``)."""

    def __init__(
        self,
        env: LeanEnv,
        config: RepairConfig,
        budget: Budget,
        *,
        proof_generator: ProofGenerator | None = None,
        subgoal_prover: SubgoalProver | None = None,
        screen: Callable[[Theorem, str], tuple[str, ...]] | None = None,
        gate: Callable[[Theorem, str], CheckResult] | None = None,
        seed: int | None = None,
    ) -> None:
        self.env = env
        self.config = config
        self.budget = budget
        self.generator = proof_generator
        self.subgoal_prover = subgoal_prover
        self.screen = screen
        self.gate = gate or env.check  # the soundness gate (the agent's wraps answer-free theorems)
        self.seed = seed
        self.crashes = 0  # Lean crashes met in automation (survived): an unproved attempt with any is an error

    # -- gate ------------------------------------------------------------------------------------

    def _gate(self, theorem: Theorem, text: str) -> CheckResult:
        return self.gate(theorem, text)

    # -- the loop ----------------------------------------------------------------------------------

    def repair(
        self, theorem: Theorem, text: str, check: CheckResult | None = None, depth: int = 0
    ) -> RepairResult:
        """Repair ``text`` (a proof of ``theorem``: its statement, maybe helper lemmas before it). ``check``: the
        gate's verdict on exactly this text when the caller has it already."""
        _, body, _ = syntax.split_header(text)
        body = body.strip("\n") + "\n"
        if self.screen is not None:
            bad = self.screen(theorem, body)
            if bad:
                return RepairResult(False, body, reason=f"the text breaks the text policy: {bad[0]}")
        if check is None:
            check = self._gate(theorem, body)
        if check.sound:
            return RepairResult(True, body, "raw", check=check)
        stage = "raw"
        messages = check.messages
        if self.config.refine:
            ref = refine(body)
            if ref.changed:
                chk = self._gate(theorem, ref.text)
                if chk.sound:
                    return RepairResult(True, ref.text, "refiner", check=chk)
                body, messages = ref.text, chk.messages
        target = _target_name(theorem)
        rounds = 0
        el = None
        cur = body
        while errors(messages):
            why = self.budget.exhausted()
            if why is not None:
                return RepairResult(False, cur, rounds=rounds, reason=f"budget spent ({why}) while sorrifying")
            if rounds >= self.config.max_rounds:
                break
            st = sorrify_step(cur, messages, target=target)
            if st.gave_up is not None:
                return RepairResult(False, cur, rounds=rounds, reason=st.gave_up)
            if not st.changed:
                break
            cur = st.text
            rounds += 1
            el = self.env.elaborate(theorem, cur)  # type: ignore[attr-defined]
            messages = el.messages
            if el.error is not None:
                return RepairResult(False, cur, rounds=rounds, reason=f"Lean: {el.error}")
        if errors(messages):
            fallback = _whole_sorry(cur, target)
            if fallback is None or fallback == cur:
                first = errors(messages)[0]
                return RepairResult(False, cur, rounds=rounds, reason=f"could not sorrify: {describe(first)}")
            cur = fallback
            rounds += 1
            el = self.env.elaborate(theorem, cur)  # type: ignore[attr-defined]
            if errors(el.messages) or el.error is not None:
                first = el.error or describe(errors(el.messages)[0])
                return RepairResult(False, cur, rounds=rounds, reason=f"even `sorry` fails: {first}")
        if el is None:  # errors-free from the start (e.g. the gate rejected only a sorry): elaborate once
            el = self.env.elaborate(theorem, cur)  # type: ignore[attr-defined]
        result = RepairResult(False, cur, rounds=rounds)
        if not el.sorries:
            chk = self._gate(theorem, cur)
            result.check = chk
            if chk.sound:
                result.proved, result.stage = True, "sorrify"
            else:
                result.reason = "no sorry left but the gate rejects the text: " + "; ".join(chk.reasons)[:200]
            return result
        return self._fill(theorem, cur, el, depth, result, stage)

    # -- filling the sorries -----------------------------------------------------------------------

    def fill(self, theorem: Theorem, text: str, el=None, stage: str = "sorrify") -> RepairResult:
        """Steps 4–6 on a text Lean reports with sorries and no error (an already-sorried proof, e.g. a masked
        sketch, `repair.sketch`): automation, search, sub-lemmas, reassembly and the gate. ``el``: Lean's
        answer to exactly ``text`` when the caller has it; ``stage``: what a text without any sorry is
        credited to."""
        if el is None:
            el = self.env.elaborate(theorem, text)  # type: ignore[attr-defined]
        if el.error is not None:
            return RepairResult(False, text, reason=f"Lean: {el.error}")
        if errors(el.messages):
            return RepairResult(False, text, reason=f"the text has errors: {describe(errors(el.messages)[0])}")
        result = RepairResult(False, text)
        if not el.sorries:
            chk = self._gate(theorem, text)
            result.check = chk
            result.proved, result.stage = chk.sound, stage if chk.sound else None
            if not chk.sound:
                result.reason = "no sorry left but the gate rejects the text: " + "; ".join(chk.reasons)[:200]
            return result
        return self._fill(theorem, text, el, 0, result, stage)

    def _fill(self, theorem: Theorem, text: str, el, depth: int, result: RepairResult, stage: str) -> RepairResult:
        src = parse(text).source
        slots: dict[int, list[int]] = {}
        for i, s in enumerate(el.sorries):
            if s.pos is None:
                continue
            slots.setdefault(src.offset(s.pos.line, s.pos.column), []).append(i)
        # one sorry per position can be filled; `all_goals sorry` (several goals at one place) stays open
        single = {off: ix[0] for off, ix in slots.items() if len(ix) == 1 and el.states[ix[0]] is not None}
        order = sorted(single)
        states = [el.states[single[o]] for o in order]
        goals = [el.sorries[single[o]].goal for o in order]
        fills: dict[int, str] = {}
        used: dict[int, str] = {}
        auto = run_portfolio(
            self.env,
            states,
            self.config.automation,
            timeout=self.config.automation_timeout,
            can_continue=lambda: self.budget.exhausted() is None,
        )
        self.crashes += auto.crashes
        for k, tac in auto.closed.items():
            fills[k], used[k] = tac, "automation"
        open_ = [k for k in range(len(order)) if k not in fills]
        if self.subgoal_prover is not None:
            for k in list(open_):
                if self.budget.exhausted():
                    break
                tactics = self.subgoal_prover(self.env, states[k], theorem)  # type: ignore[arg-type]
                if tactics:
                    fills[k], used[k] = "\n".join(tactics), "search"
                    open_.remove(k)
        lemmas: dict[int, tuple[SubLemma, str]] = {}  # k → (lemma, its proved text)
        statements: dict[int, SubLemma] = {}
        llm = self.generator is not None and self.config.sublemma_samples > 0 and depth <= self.config.max_depth
        if open_ and llm and self.budget.exhausted() is None:
            statements = self._statements(theorem, text, order, states, goals, open_, depth)
            for k, lem in statements.items():
                if self.budget.exhausted():
                    break
                got = self._prove_lemma(theorem, lem, depth)
                if got is not None:
                    lemmas[k] = (lem, got[0])
                    used[k] = got[1]
                    open_.remove(k)
        for k, (lem, _) in lemmas.items():
            fills[k] = lem.call
        new = RA.splice(text, [RA.Fill(order[k], fills[k]) for k in fills]) if fills else text
        helpers = [proved for _, proved in lemmas.values()]
        if helpers:
            new = RA.add_lemmas(new, _target_name(theorem), helpers)
        for k in used:
            result.closed[used[k]] += 1
        result.text = new
        if open_:
            src2 = parse(text).source
            for k in open_:
                line, col = src2.pos(order[k])
                lem = statements.get(k)
                result.remaining.append(SubGoal(goals[k], line, col, lem.statement if lem else None))
            # positions in the text that is returned: recomputed from the new text's sorries
            result.remaining = _relocate(new, result.remaining)
            spent = self.budget.exhausted()
            result.reason = f"{len(open_)} sub-goal(s) open" + (f" (budget spent: {spent})" if spent else "")
            return result
        chk = self._gate(theorem, new)
        result.check = chk
        if chk.sound:
            result.proved = True
            result.stage = max(used.values(), key=STAGES.index) if used else stage
        else:
            result.reason = "the reassembled proof is rejected by the gate: " + ("; ".join(chk.reasons) or "?")[:300]
        return result

    def _statements(self, theorem, text, order, states, goals, open_, depth) -> dict[int, SubLemma]:
        """Sub-lemmas for the open sorries whose statement elaborates and closes the goal at its sorry
        (checked together: one Lean call)."""
        taken = {d.name for d in parse(text, blocks=False).decls if d.name}
        base = _target_name(theorem) or theorem.name
        out: dict[int, SubLemma] = {}
        for k in open_[: self.config.max_sublemmas]:
            goal = goal_with_options(self.env, states[k], self.config.pp_options, self.config.automation_timeout)
            name = f"{base}_sub{k + 1}"
            while name in taken:
                name += "'"
            taken.add(name)
            try:
                out[k] = sub_lemma(goal, name)
            except GoalNotStatable as e:
                log.info("sub-goal %d of %s: %s", k + 1, theorem.name, e)
        if not out:
            return out
        trial = RA.splice(text, [RA.Fill(order[k], lem.call) for k, lem in out.items()])
        trial = RA.add_lemmas(trial, _target_name(theorem), [lem.sorried() for lem in out.values()])
        el = self.env.elaborate(theorem, trial)  # type: ignore[attr-defined]
        if el.error is not None:
            return {}
        bad = _lemmas_with_errors(trial, list(out.values()), errors(el.messages))
        return {k: lem for k, lem in out.items() if lem.name not in bad}

    def _prove_lemma(self, theorem: Theorem, lem: SubLemma, depth: int) -> tuple[str, str] | None:
        """A proof of the sub-lemma that passed the gate, and the stage that found it."""
        assert self.generator is not None
        lt = Theorem(lem.name, lem.statement, theorem.header, source=f"{theorem.name} (sub-goal)")
        n = self.config.sublemma_samples
        cands = self.generator.generate([lt], n, seed=self.seed)[0]
        self.budget.spend(cands)
        failed: list[tuple[ProofCandidate, CheckResult]] = []
        for c in cands:
            if not c.usable or self.budget.exhausted():
                continue
            chk = self._gate(lt, c.text)
            if chk.sound:
                return _only_decls(c.text), "sublemma"
            failed.append((c, chk))
        if depth + 1 > self.config.max_depth:
            return None
        for c, chk in failed[: self.config.recurse_failed]:
            if self.budget.exhausted():
                break
            sub = self.repair(lt, c.text, chk, depth + 1)
            if sub.proved:
                return _only_decls(sub.text), "recursion"
        return None


def _target_name(theorem: Theorem) -> str | None:
    decls = syntax.scan(theorem.statement).declarations
    return decls[0].name if decls and decls[0].name else None


def _only_decls(text: str) -> str:
    """A proved text without its import header (it goes before the main theorem)."""
    _, body, _ = syntax.split_header(text)
    return body.strip("\n")


def _whole_sorry(text: str, target: str | None) -> str | None:
    """The target's proof replaced by ``sorry`` (APOLLO's last resort); None without a ``:=``."""
    pf = parse(text)
    cands = [d for d in pf.decls if target is None or d.name == target]
    if not cands:
        return None
    d = cands[-1]
    if d.assign is None:
        return None
    return text[: d.statement_end] + " by\n  sorry\n" + text[d.end :].lstrip("\n")


def _lemmas_with_errors(text: str, lemmas: list[SubLemma], errs: list[Message]) -> set[str]:
    """Names of the lemmas whose statement or call site has an error in ``text``."""
    pf = parse(text)
    src = pf.source
    bad: set[str] = set()
    calls = {
        lem.name: [m.start() for m in re.finditer(r"exact " + re.escape(lem.name) + r"\b", text)] for lem in lemmas
    }
    for m in errs:
        if m.pos is None:
            continue
        off = src.offset(m.pos.line, m.pos.column)
        d = pf.decl_at(off)
        if d is not None and d.name in calls:
            bad.add(d.name)
            continue
        for name, starts in calls.items():
            for s in starts:
                line_a = src.line_start(s)
                if line_a <= off <= src.line_end(s):
                    bad.add(name)
    return bad


def _relocate(text: str, goals: list[SubGoal]) -> list[SubGoal]:
    """Positions of the open goals' sorries in ``text`` (the remaining sorries, in order)."""
    offs = RA.sorry_offsets(text)
    if len(offs) != len(goals):
        return goals
    src = parse(text).source
    out = []
    for g, off in zip(goals, offs, strict=True):
        line, col = src.pos(off)
        out.append(SubGoal(g.goal, line, col, g.lemma))
    return out
