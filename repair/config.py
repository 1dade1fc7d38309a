"""Configuration of the whole-proof modes and of the repair loop (``[repair]``).

Budgets are counted as APOLLO counts them: whole-proof samples (``samples`` for the theorem,
``sublemma_samples`` per extracted sub-lemma; each completion is one sample), recursion depth (APOLLO: 2),
Lean calls and wall time per attempt. APOLLO's published setting is ``sublemma_samples = 32``,
``max_depth = 2``, ``recurse_failed = 5``; the defaults here are smaller so that one attempt stays within a
few minutes on one GPU.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

APOLLO_CHAIN = "try norm_cast; try norm_num; try simp_all; try ring_nf at *; try linarith; try nlinarith"
# APOLLO's pretty-printer options: printed goals re-parse as lemma binders.
PP_OPTIONS = [
    "pp.funBinderTypes",
    "pp.piBinderTypes",
    "pp.numericTypes",
    "pp.coercions.types",
    "pp.letVarTypes",
    "pp.structureInstanceTypes",
    "pp.instanceTypes",
    "pp.mvars.withType",
]


class RepairConfig(BaseModel):
    model_config = {"extra": "forbid"}

    # whole / repair / hybrid: whole proofs sampled for the theorem (one request), and how many of the failed
    # ones the repair loop then works on (APOLLO repairs each failed sample).
    samples: int = Field(8, ge=1)
    candidates_to_repair: int = Field(4, ge=0)
    # The loop on one text.
    max_rounds: int = Field(20, ge=1)  # sorrify rounds (APOLLO: min(75, lines))
    refine: bool = True  # the syntax refiner before the first sorrify round
    automation: list[str] = Field(default_factory=lambda: ["hint", APOLLO_CHAIN])
    automation_timeout: float = Field(20.0, gt=0)  # seconds per tactic
    pp_options: list[str] = Field(default_factory=lambda: list(PP_OPTIONS))
    # Sub-goals left after automation.
    sublemma_samples: int = Field(8, ge=0)  # whole-proof samples per sub-lemma (APOLLO: 32); 0: no LLM stage
    max_depth: int = Field(2, ge=0)  # recursion depth (APOLLO: 2)
    recurse_failed: int = Field(2, ge=0)  # failed sub-lemma proofs repaired one level down (APOLLO: 5)
    max_sublemmas: int = Field(8, ge=0)  # sub-goals of one text handed on (the rest stay open)
    # hybrid: the step prover's search from each sub-goal's proof state, before the LLM
    subgoal_expansions: int = Field(64, ge=1)
    subgoal_time: float = Field(60.0, gt=0)
    # Per attempt (a theorem, all its candidates and sub-lemmas).
    max_lean_calls: int | None = Field(2000, ge=1)
    time_limit: float | None = Field(900.0, gt=0)

    @field_validator("automation")
    @classmethod
    def _tactics(cls, v: list[str]) -> list[str]:
        out = [t.strip() for t in v if t.strip()]
        bad = [t for t in out if "sorry" in t or "admit" in t]
        if bad:
            raise ValueError(f"automation tactics may not use sorry/admit: {bad}")
        return out

    def uses_native_decide(self) -> bool:
        return any("native_decide" in t for t in self.automation)
