"""The whole-proof modes, each one entry ``prove(theorem, seed) -> ProofAttempt`` that the agent dispatches to:

* ``whole``: sample ``repair.samples`` whole proofs (one request to the `ProofGenerator`), each through the
  soundness gate; the first sound one is the proof (stage ``raw``);
* ``repair``: ``whole``, then the repair loop (`repair.loop.RepairLoop`) on up to
  ``repair.candidates_to_repair`` failed samples, their sub-lemmas proved by the same generator;
* ``hybrid``: ``repair`` whose sub-goals go to the step prover's search from their REPL proof state first
  (`SearchSubgoalProver`), then to the generator.

Statuses follow the agent's rules: ``proved`` only through the gate; a statement Lean rejects, a generation
backend that fails, or Lean timing out / crashing on a sample (that sample is skipped, the others still run)
is ``error`` with one line, never a final ``failed``. The attempt records the stage that closed the proof and
the budget spent (samples, tokens, Lean calls, time) in ``ProofAttempt.stage`` / ``samples`` / ``tokens`` /
``stats``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from prover.attempt import ProofAttempt
from prover.lean.env import LeanEnv, TextEnv
from prover.lean.types import CheckResult, LeanCrashed, LeanTimeout, TacticState, Theorem
from prover.models.base import ProofGenerator, TacticGenerator
from repair.config import RepairConfig
from repair.loop import STAGES, Budget, RepairLoop, RepairResult, SubgoalProver

log = logging.getLogger(__name__)

MODES = ("step", "whole", "repair", "hybrid")


class SearchSubgoalProver:
    """A sub-goal prover over the step prover: best-first (or MPS) search from the sorry's proof state, with
    the repair config's per-sub-goal budget; the path it finds is spliced at the sorry (the final text still
    goes through the gate)."""

    def __init__(
        self,
        search_config: Any,
        generator: TacticGenerator,
        repair: RepairConfig,
        *,
        num_tactics: int = 8,
        tactic_timeout: float | None = None,
        retriever: Any = None,
        premises_k: int = 0,
        seed: int | None = None,
    ) -> None:
        self.seed = seed
        self.search_config = search_config.model_copy(
            update={"max_expansions": repair.subgoal_expansions, "time_limit": repair.subgoal_time}
        )
        self.generator = generator
        self.num_tactics = num_tactics
        self.tactic_timeout = tactic_timeout
        self.retriever = retriever
        self.premises_k = premises_k
        self.expansions = 0

    def __call__(self, env: LeanEnv, state: TacticState, theorem: Theorem) -> list[str] | None:
        from search import build_search

        searcher = build_search(self.search_config, num_tactics=self.num_tactics, tactic_timeout=self.tactic_timeout)
        result = searcher.search(
            env,
            state,
            self.generator,
            theorem=theorem,
            retriever=self.retriever,
            premises_k=self.premises_k,
            accept=lambda path: True,  # the whole reassembled text goes through the gate
            seed=self.seed,
        )
        self.expansions += result.stats.expansions
        if not result.proved and result.stats.crashes:  # as in step mode: crashes make an unproved try an error
            raise LeanCrashed(f"the step prover's search on a sub-goal met {result.stats.crashes} Lean crash(es)")
        return result.graph.proof_tactics() if result.proved else None


class WholeProofMode:
    """Modes ``whole``, ``repair`` and ``hybrid`` (see the module docstring) over one env and generator."""

    def __init__(
        self,
        mode: str,
        config: RepairConfig,
        env: LeanEnv,
        generator: ProofGenerator,
        *,
        subgoal_prover: SubgoalProver | None = None,
        screen: Callable[[Theorem, str], tuple[str, ...]] | None = None,
        gate: Callable[[Theorem, str], CheckResult] | None = None,
    ) -> None:
        if mode not in ("whole", "repair", "hybrid"):
            raise ValueError(f"WholeProofMode runs whole / repair / hybrid, not {mode!r}")
        self.mode = mode
        self.config = config
        self.env = env
        self.generator = generator
        self.subgoal_prover = subgoal_prover
        self.screen = screen
        self.gate = gate or env.check
        self._infra: Counter[str] = Counter()

    def prove(self, theorem: Theorem, seed: int = 0, budget: Budget | None = None) -> ProofAttempt:
        """One attempt (the env has already started the theorem: the agent checks the statement first)."""
        t0 = time.monotonic()
        cfg = self.config
        self._infra = Counter()
        budget = budget or Budget(self.env, cfg.max_lean_calls, cfg.time_limit)
        attempt = ProofAttempt(theorem=theorem, status="failed", seed=seed, mode=self.mode)
        stats: dict[str, Any] = {"mode": self.mode}
        cands = self.generator.generate([theorem], cfg.samples, seed=seed)[0]
        budget.spend(cands)
        problems = Counter(c.problem for c in cands if not c.usable)
        stats["candidates"] = len(cands)
        stats["unusable"] = sum(problems.values())
        if problems:
            stats["problems"] = {str(k): v for k, v in problems.most_common(5)}
        checked: list[tuple[Any, CheckResult]] = []
        infra = self._infra  # Lean timeouts / crashes on a candidate: that candidate is skipped
        for c in cands:
            if not c.usable:
                continue
            if budget.exhausted():
                stats["stop"] = budget.exhausted()
                break
            try:
                chk = self.gate(theorem, c.text)
            except (LeanTimeout, LeanCrashed) as e:
                infra[type(e).__name__] += 1
                continue
            if chk.sound:
                return self._done(attempt, t0, budget, stats, c.text, "raw", chk)
            checked.append((c, chk))
        stats["failed_samples"] = len(checked)
        if self.mode == "whole" or not checked:
            if not checked and cands and not any(c.usable for c in cands):
                attempt.error = f"no usable proof in {len(cands)} sample(s): {problems.most_common(1)[0][0]}"
            return self._finish(attempt, t0, budget, stats)
        if not isinstance(self.env, TextEnv):
            attempt.status = "error"
            attempt.error = f"mode {self.mode} needs a Lean backend that elaborates texts (the REPL)"
            return self._finish(attempt, t0, budget, stats)
        loop = RepairLoop(
            self.env,
            cfg,
            budget,
            proof_generator=self.generator,
            subgoal_prover=self.subgoal_prover if self.mode == "hybrid" else None,
            screen=self.screen,
            gate=self.gate,
            seed=seed,
        )
        best: RepairResult | None = None
        repaired = 0
        for c, chk in checked[: cfg.candidates_to_repair]:
            if budget.exhausted():
                stats["stop"] = budget.exhausted()
                break
            repaired += 1
            try:
                res = loop.repair(theorem, c.text, chk)
            except (LeanTimeout, LeanCrashed) as e:
                infra[type(e).__name__] += 1
                continue
            if res.proved:
                stats["repaired"] = repaired
                stats["rounds"] = res.rounds
                stats["closed"] = dict(res.closed)
                return self._done(attempt, t0, budget, stats, res.text, res.stage or "raw", res.check)
            if best is None or _better(res, best):
                best = res
        stats["repaired"] = repaired
        if loop.crashes:  # Lean crashed on automation tactics (survived): the unproved attempt is an error
            infra["LeanCrashed"] += loop.crashes
        if best is not None:
            stats["rounds"] = best.rounds
            stats["closed"] = dict(best.closed)
            stats["remaining"] = [g.goal for g in best.remaining][:8]
            stats["reason"] = best.reason
        return self._finish(attempt, t0, budget, stats)

    def _done(self, attempt, t0, budget, stats, text, stage, chk) -> ProofAttempt:
        attempt.status = "proved"
        attempt.proof = text
        attempt.stage = stage
        attempt.lean_version = chk.lean_version if chk is not None else None
        attempt.verified_by = chk.verified_by if chk is not None else None
        stats["stage"] = stage
        return self._finish(attempt, t0, budget, stats)

    def _finish(self, attempt: ProofAttempt, t0: float, budget: Budget, stats: dict[str, Any]) -> ProofAttempt:
        infra = self._infra
        if infra:
            stats["infrastructure"] = dict(infra)
            if attempt.status == "failed":  # an infrastructure failure is never a final "failed" (resume redoes it)
                attempt.status = "error"
                what = ", ".join(f"{k} ×{v}" for k, v in infra.items())
                attempt.error = f"{next(iter(infra))}: Lean failed on samples ({what}); they were not checked"
        expansions = None if self.subgoal_prover is None else self.subgoal_prover.expansions
        return budget.record(attempt, stats, expansions, t0)


def _better(a: RepairResult, b: RepairResult) -> bool:
    """Fewer open sub-goals is better (a text that reached the sub-goal stage beats one that gave up)."""
    ka = (a.reason is None or bool(a.remaining) or bool(a.closed), -len(a.remaining), sum(a.closed.values()))
    kb = (b.reason is None or bool(b.remaining) or bool(b.closed), -len(b.remaining), sum(b.closed.values()))
    return ka > kb


__all__ = ["MODES", "STAGES", "SearchSubgoalProver", "WholeProofMode"]
