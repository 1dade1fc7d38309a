"""One theorem through the mutation pipeline: open it at its place, find invocable premises, build mutants,
verify each through the soundness gate, and collect the (state, tactic) pairs of the verified ones.

For a candidate (`data.mutate.candidates.Candidate`), in one REPL process:

1. **open**: the env of its place (`data.mutate.places`), then its own statement with ``:= by sorry`` under
   ``set_option pp.… true in`` (``mutate.pp_options``), so Lean's goal strings read back as terms; the sorry's
   proof state is the root;
2. **invocable premises**: the prefilter (`data.mutate.prefilter`) ranks accessible premises against the root
   goal's target and each hypothesis the statement binds; each is tried from the root state with
   ``rw [T]`` / ``rw [← T]`` (target), ``rw [T] at h`` (hypothesis) and ``have h : P := by apply T`` (kind
   ``apply``). A rewrite counts when Lean answers with exactly one goal (Alchemy's rule: side goals of a
   conditional rule would become unproved assumptions); an apply counts when Lean reports ``unsolved goals``
   (they become the new hypotheses);
3. **mutants**: `data.mutate.statement` builds the new statement and a proof that restores the original;
   mutants equal to the source up to printing, or with something Lean cannot read back, are dropped;
4. **verification**: every mutant goes through `prover.lean.gate.SoundnessGate` at the place; the verified
   ones are elaborated once more with ``allTactics`` for their (state, tactic) pairs.

Faults: a tactic attempt that times out or crashes the REPL is counted and skipped (the theorem is reopened in
the restarted process); a theorem that does not open (its place or its statement does not elaborate) is
recorded as skipped with Lean's first error; a mutant whose check hit an infrastructure fault is recorded as
``error`` (redone on resume), never as rejected.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from data.export import StepRecord
from data.mutate.candidates import Candidate, SourceFile
from data.mutate.config import MutateConfig
from data.mutate.places import PlaceError, PlaceRunner, Places, place_header
from data.mutate.prefilter import head_of, looks_propositional, term_keys
from data.mutate.statement import (
    Signature,
    StatementError,
    apply_proof,
    fresh_hypothesis,
    fresh_name,
    goal_rewrite_proof,
    hyp_rewrite_proof,
    junk_reason,
    parse_signature,
    rename,
    rw_rule,
    same_up_to_printing,
    with_binder_replaced,
    with_conclusion,
)
from prover.lean.gate import SoundnessGate
from prover.lean.goals import Goal, GoalParseError, flat, parse_goal, unsolved_goals
from prover.lean.repl import ReplBase
from prover.lean.syntax import code_tokens
from prover.lean.types import (
    LeanCrashed,
    LeanError,
    LeanException,
    LeanInputError,
    LeanSetupError,
    LeanTimeout,
    ProofFinished,
    TacticState,
    Theorem,
)

log = logging.getLogger(__name__)

GOAL_SITE = "⊢"
_UNKNOWN_OPTION = re.compile(r"unknown option|invalid option", re.IGNORECASE)
MAX_FAULTS = 3  # infrastructure faults on one theorem before it is given up (recorded as an error)


class Prefilter(Protocol):
    """What the pipeline asks the premise index (`data.mutate.premises.PremiseSource` implements it)."""

    def scope(self, candidate: Candidate, context: frozenset[str]) -> Any:
        """Per-theorem data for the queries below: which premises are accessible at the candidate's place and how
        they rank for a theorem whose goal has the keys ``context``."""
        ...

    def rewrites(self, keys: frozenset[str], k: int, scope: Any) -> list[tuple[str, bool]]:
        """(premise name, reverse) rules to try on a target with these keys, best first."""
        ...

    def applies(self, keys: frozenset[str], head: str | None, k: int, scope: Any) -> list[str]:
        """Premise names to ``apply`` to a hypothesis with these keys and head, best first."""
        ...


@dataclass(frozen=True)
class Mutant:
    id: str  # stable: hash of the source theorem and the new statement
    candidate: str  # the source theorem's key
    source: str  # its full name
    file: str
    kind: str  # rw | apply
    site: str  # "⊢" (the goal) or the hypothesis rewritten / replaced
    premise: str
    tactic: str  # what Lean ran on the source's root state
    name: str  # the new theorem's name as written (in the source theorem's namespace)
    statement: str  # up to (without) `:=`
    proof: str  # starts with `by`

    @property
    def text(self) -> str:
        return f"{self.statement} := {self.proof}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Discovery:
    """What trying premises on one theorem gave."""

    mutants: list[Mutant] = field(default_factory=list)
    tried: Counter = field(default_factory=Counter)  # tactic attempts per kind
    invocable: Counter = field(default_factory=Counter)  # attempts Lean accepted per kind
    dropped: Counter = field(default_factory=Counter)  # why accepted attempts gave no mutant
    faults: int = 0
    root_goal: str = ""


@dataclass
class Verification:
    status: str  # verified | rejected | error
    reason: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    lean_version: str | None = None


def _mutant_id(candidate: Candidate, statement: str) -> str:
    return hashlib.sha1(f"{candidate.key}\n{flat(statement)}".encode()).hexdigest()[:16]


def open_text(candidate: Candidate, pp_options: list[str]) -> str:
    """The command that opens the candidate: its statement, proved by ``sorry``, under the pp options."""
    opts = "".join(f"set_option {o} true in\n" for o in pp_options)
    return f"{opts}{candidate.statement} := by sorry"


def _first_line(s: str) -> str:
    lines = [x.strip() for x in s.strip().splitlines() if x.strip()]
    return lines[0][:300] if lines else ""


class MutationWorker:
    """Runs the pipeline on the candidates of one file in one REPL process (not thread-safe: one per thread)."""

    def __init__(self, config: MutateConfig, prefilter: Prefilter, *, timeout: float,
                 allowed_axioms: list[str] | tuple[str, ...], gate: SoundnessGate | None = None) -> None:
        self.config = config
        self.prefilter = prefilter
        self.timeout = timeout
        self.places = Places(timeout=config.context_timeout)
        self.gate = gate or SoundnessGate(allowed_axioms, timeout=timeout)

    # -- opening -----------------------------------------------------------------------------------

    def open(self, proc: Any, sf: SourceFile, cand: Candidate, text: str) -> tuple[int, Goal]:
        """Root proof state id and goal of ``cand`` at its place. Raises `PlaceError` / `LeanInputError`."""
        env = self.places.env(proc, sf, cand.start, text)
        res = proc.command(open_text(cand, self.config.pp_options), env=env, timeout=self.timeout)
        if res.error is not None:
            raise LeanInputError(f"{cand.name}: does not open: {_first_line(res.error)}")
        if res.errors:
            first = _first_line(res.errors[0].data)
            if _UNKNOWN_OPTION.search(first):  # would fail for every theorem: a setup problem, not this theorem's
                raise LeanSetupError(f"Lean does not know a pretty-printer option of mutate.pp_options ({first}); "
                                     "set mutate.pp_options to options of your Lean version")
            raise LeanInputError(f"{cand.name}: does not open: {first}")
        roots = [s for s in res.sorries if s.proof_state is not None]
        if not roots:
            raise LeanInputError(f"{cand.name}: Lean gave no proof state for the statement")
        root = roots[-1]
        try:
            return int(root.proof_state), parse_goal(root.goal)  # type: ignore[arg-type]
        except GoalParseError as e:
            raise LeanInputError(f"{cand.name}: cannot read Lean's goal: {e}") from e

    # -- discovery ---------------------------------------------------------------------------------

    def discover(self, proc: Any, sf: SourceFile, cand: Candidate, text: str) -> Discovery:
        """Find this theorem's mutants (raises `PlaceError` / `LeanInputError` when it does not open)."""
        cfg = self.config
        sig = parse_signature(cand.statement)
        ps, goal = self.open(proc, sf, cand, text)
        out = Discovery(root_goal=goal.pp())
        gen = proc.generation
        variables = set(goal.names)
        site_keys = [term_keys(goal.target, variables, guess_variables=False)]
        site_keys += [term_keys(h.type, variables, guess_variables=False) for h in goal.hypotheses]
        acc = self.prefilter.scope(cand, frozenset().union(*site_keys))
        attempts: list[tuple[str, str, str, bool, str]] = []  # (kind, site, premise, reverse, tactic)
        if "rw" in cfg.kinds:
            keys = term_keys(goal.target, variables, guess_variables=False)
            for name, rev in self.prefilter.rewrites(keys, cfg.rewrites_per_target, acc):
                attempts.append(("rw", GOAL_SITE, name, rev, f"rw [{rw_rule(name, rev)}]"))
        for hyp in self._hypotheses(sig, goal):
            htype = goal.type_of(hyp) or ""
            keys = term_keys(htype, variables, guess_variables=False)
            if "rw" in cfg.kinds:
                for name, rev in self.prefilter.rewrites(keys, cfg.rewrites_per_target, acc):
                    attempts.append(("rw", hyp, name, rev, f"rw [{rw_rule(name, rev)}] at {hyp}"))
            if "apply" in cfg.kinds:
                head = head_of(code_tokens(htype), variables)
                src_type = flat(sig.binder_of(hyp).type or "")  # type: ignore[union-attr]
                for name in self.prefilter.applies(keys, head, cfg.applies_per_hypothesis, acc):
                    attempts.append(("apply", hyp, name, False, f"have {hyp} : {src_type} := by apply {name}"))
        seen: set[str] = set()
        for kind, site, premise, rev, tactic in attempts:
            if proc.generation != gen:  # a fault restarted the REPL: reopen the theorem
                ps, goal = self.open(proc, sf, cand, text)
                gen = proc.generation
            out.tried[kind] += 1
            try:
                res = proc.tactic(tactic, ps, timeout=self.timeout)
            except (LeanTimeout, LeanCrashed) as e:
                out.faults += 1
                out.dropped["fault"] += 1
                log.info("%s: %s: %s", cand.name, tactic, _first_line(str(e)))
                if out.faults >= MAX_FAULTS:
                    raise
                continue
            m, why = self._mutant(cand, sig, goal, kind, site, premise, rev, tactic, res)
            if why != "not invocable":
                out.invocable[kind] += 1
            if m is None:
                out.dropped[why] += 1
                continue
            if m.statement in seen:
                out.dropped["duplicate"] += 1
                continue
            seen.add(m.statement)
            out.mutants.append(m)
        return out

    def _hypotheses(self, sig: Signature, goal: Goal) -> list[str]:
        """Hypotheses a mutation may change: bound by a typed, non-instance binder of the statement, visible
        once (not shadowed) in the goal, and looking like propositions."""
        out: list[str] = []
        for b in sig.binders:
            if b.bracket not in ("(", "{", "⦃") or b.type is None:
                continue
            for n in b.names:
                if n == "_" or goal.names.count(n) != 1 or not looks_propositional(b.type, (n,)):
                    continue
                out.append(n)
        return out

    def _mutant(self, cand: Candidate, sig: Signature, goal: Goal, kind: str, site: str, premise: str,
                rev: bool, tactic: str, res: Any) -> tuple[Mutant | None, str]:
        """The mutant an answer gives, or ``(None, why not)``."""
        if kind == "rw":
            if isinstance(res, ProofFinished):
                return None, "closes the goal"
            if not isinstance(res, TacticState):
                return None, "not invocable"
            if len(res.goals) != 1:
                return None, "side goals"
            try:
                new = parse_goal(res.goals[0])
            except GoalParseError:
                return None, "unreadable goal"
            if site == GOAL_SITE:
                old_t, new_t = goal.target, new.target
            else:
                old_t, new_t = goal.type_of(site) or "", new.type_of(site)
                if new_t is None:
                    return None, "hypothesis gone"
            if same_up_to_printing(old_t, new_t):
                return None, "same statement"
            junk = junk_reason(new_t)
            if junk:
                return None, f"junk: {junk}"
            try:
                if site == GOAL_SITE:
                    body = with_conclusion(sig, new_t)
                    name = fresh_name(sig.name, body)
                    statement = with_conclusion(sig, new_t, name=name)
                    proof = goal_rewrite_proof(sig.conclusion, cand.proof, premise, rev, "this")
                else:
                    old_src = sig.binder_of(site).type or ""  # type: ignore[union-attr]
                    body = with_binder_replaced(sig, site, [(site, new_t)])
                    name = fresh_name(sig.name, body)
                    statement = rename(parse_signature(body), name)
                    proof = hyp_rewrite_proof(site, old_src, cand.proof, premise, rev)
            except StatementError as e:
                return None, f"statement: {e}"
        else:  # apply
            if isinstance(res, TacticState | ProofFinished):
                return None, "no new hypotheses"
            goals = unsolved_goals(res.error) if isinstance(res, LeanError) else None
            if not goals:
                return None, "not invocable"
            old_t = goal.type_of(site) or ""
            targets = [g.target for g in goals]
            for t in targets:
                junk = junk_reason(t)
                if junk:
                    return None, f"junk: {junk}"
                if not looks_propositional(t):
                    return None, "a data goal (an argument apply could not infer)"
            if len(targets) == 1 and same_up_to_printing(old_t, targets[0]):
                return None, "same statement"
            taken = set(goal.names) | set(sig.bound_names)
            names = fresh_hypothesis(site, taken, len(targets))
            old_src = sig.binder_of(site).type or ""  # type: ignore[union-attr]
            try:
                body = with_binder_replaced(sig, site, list(zip(names, targets, strict=True)))
                name = fresh_name(sig.name, body)
                statement = rename(parse_signature(body), name)
            except StatementError as e:
                return None, f"statement: {e}"
            proof = apply_proof(site, old_src, cand.proof, premise)
        m = Mutant(
            id=_mutant_id(cand, statement),
            candidate=cand.key,
            source=cand.name,
            file=cand.file,
            kind=kind,
            site=site,
            premise=premise,
            tactic=tactic,
            name=name,
            statement=statement,
            proof=proof,
        )
        return m, ""

    # -- verification ------------------------------------------------------------------------------

    def verify(self, proc: Any, sf: SourceFile, cand: Candidate, text: str, m: Mutant) -> Verification:
        """Gate ``m`` at its place; for a verified one, its (state, tactic) pairs from ``allTactics``."""
        header = place_header(sf, cand.start, text)
        runner = PlaceRunner(proc, self.places, sf, cand.start, text, header)
        theorem = Theorem(m.name, f"{m.statement} :=", header=header, source=f"{cand.file}:{cand.line}")
        try:
            res = self.gate.check(runner, theorem, m.text)
        except LeanSetupError:
            raise
        except LeanException as e:
            return Verification("error", _first_line(f"{type(e).__name__}: {e}"))
        if not res.sound:
            reason = "; ".join(res.reasons) or "not sound"
            return Verification("rejected", reason[:1000], lean_version=res.lean_version)
        steps: list[StepRecord] = []
        try:
            env = self.places.env(proc, sf, cand.start, text)
            r = proc.command(m.text, env=env, all_tactics=True, timeout=self.timeout)
            before: list[str] = []
            for t in r.tactics:
                steps.append(
                    StepRecord(
                        theorem=m.name,
                        state=t.goals,
                        tactic=t.tactic,
                        proof_before=tuple(before),
                        statement=m.statement,
                        origin="mutation",
                    )
                )
                before.append(t.tactic)
        except LeanSetupError:
            raise
        except LeanException as e:  # the mutant is verified; only its pairs are missing
            log.warning("%s: allTactics failed after verification: %s", m.name, _first_line(str(e)))
        return Verification("verified", "", steps, res.lean_version)


# ---------------------------------------------------------------------------------------------------
# Jobs and events (what a worker reports to the driver that owns the store)


@dataclass
class CandidateJob:
    candidate: Candidate
    pending: list[Mutant] | None = None  # found by an earlier session, to verify only


@dataclass
class FileJob:
    file: SourceFile
    jobs: list[CandidateJob]

    @property
    def key(self) -> str:
        return self.file.path


@dataclass
class Event:
    """``kind``: ``found`` (mutants + discovery stats), ``skipped`` (does not open), ``error`` (infrastructure),
    ``verified`` (one mutant's verification), ``done`` (the theorem is finished)."""

    kind: str
    candidate: str
    mutants: list[Mutant] = field(default_factory=list)
    discovery: dict[str, Any] = field(default_factory=dict)
    mutant: str | None = None
    verification: Verification | None = None
    reason: str = ""
    lean_calls: int = 0
    seconds: float = 0.0


def _calls(proc: ReplBase) -> int:
    return proc.total_requests


def run_file(worker: MutationWorker, proc: Any, job: FileJob, emit: Callable[[Event], None]) -> None:
    """Every candidate of ``job`` in order, in ``proc``; events go to ``emit`` as they happen.

    Raises `LeanSetupError` (nothing can run); everything else is reported per theorem."""
    sf = job.file
    try:
        text = sf.text()
    except (OSError, UnicodeDecodeError) as e:
        for cj in job.jobs:
            emit(Event("skipped", cj.candidate.key, reason=f"cannot read {sf.path}: {e}"))
        return
    cap = worker.config.max_mutants_per_theorem
    for cj in job.jobs:
        cand = cj.candidate
        t0 = time.perf_counter()
        c0 = _calls(proc)
        mutants = cj.pending
        if mutants is None:
            try:
                d = worker.discover(proc, sf, cand, text)
            except LeanSetupError:
                raise
            except (PlaceError, LeanInputError) as e:
                emit(Event("skipped", cand.key, reason=_first_line(str(e)), lean_calls=_calls(proc) - c0,
                           seconds=time.perf_counter() - t0))
                continue
            except StatementError as e:
                emit(Event("skipped", cand.key, reason=f"statement: {e}"))
                continue
            except LeanException as e:
                emit(Event("error", cand.key, reason=_first_line(f"{type(e).__name__}: {e}"),
                           lean_calls=_calls(proc) - c0, seconds=time.perf_counter() - t0))
                continue
            mutants = d.mutants[:cap] if cap else []
            over = len(d.mutants) - len(mutants)
            if over:
                d.dropped["over max_mutants_per_theorem"] += over
            emit(Event("found", cand.key, mutants=mutants, discovery=_discovery_json(d),
                       lean_calls=_calls(proc) - c0, seconds=time.perf_counter() - t0))
        for m in mutants:
            t1 = time.perf_counter()
            c1 = _calls(proc)
            try:
                v = worker.verify(proc, sf, cand, text, m)
            except LeanSetupError:
                raise
            except LeanException as e:  # the place could not be rebuilt after a fault
                v = Verification("error", _first_line(f"{type(e).__name__}: {e}"))
            emit(Event("verified", cand.key, mutant=m.id, verification=v, lean_calls=_calls(proc) - c1,
                       seconds=time.perf_counter() - t1))
        emit(Event("done", cand.key, seconds=time.perf_counter() - t0))


def _discovery_json(d: Discovery) -> dict[str, Any]:
    return {
        "tried": dict(d.tried),
        "invocable": dict(d.invocable),
        "dropped": dict(d.dropped),
        "faults": d.faults,
        "found": len(d.mutants),
    }
