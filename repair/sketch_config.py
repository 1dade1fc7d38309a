"""Configuration of the sketch mode (``[sketch]``): the draft and sketch models, prompts, budgets, placeholder
proving.

Defaults follow DSP+'s published configuration (microsoft/DSP-Plus ``config/default.py``): the draft model
QwQ-32B at temperature 0.6, top-p 0.95, the sketch model DeepSeek-V3-0324 at temperature 0.7, top-p 0.95,
both over an OpenAI-compatible endpoint with up to 32768 new tokens; one draft and one sketch per attempt
(DSP+ counts its budget in such workflow attempts: pass@k = k attempts); the Aesop rule list DSP+ adds as
unsafe rules (`DSP_TACTICS`) with ``maxGoals`` 64, first without then with Aesop's built-in rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from prover.models.config import CompletionConfig
from repair.config import RepairConfig

# The tactics DSP+ registers as unsafe Aesop rules at 90% (prove.py's header).
DSP_TACTICS = [
    "rfl",
    "linarith",
    "nlinarith",
    "ring",
    "positivity",
    "omega",
    "ring_nf",
    "ring_nf at *",
    "simp",
    "simp_all",
    "field_simp",
    "field_simp [*] at *",
    "norm_num",
    "norm_num [*] at *",
    "norm_cast",
    "norm_cast at *",
]
# Cheap single tactics tried on every placeholder before the Aesop calls (entry-major: each reaches all
# placeholders before the next, slower one runs).
QUICK_TACTICS = ["norm_num", "linarith", "nlinarith", "positivity", "omega", "simp_all", "field_simp"]


def aesop_call(tactics: list[str], max_goals: int, builtin: bool) -> str:
    """Aesop with ``tactics`` as unsafe rules given inline (an ``add`` clause: the gate allows no
    ``add_aesop_rules`` command in a proof), DSP+'s search options, with or without the built-in rules."""
    rules = ", ".join(f"unsafe 90% (by {t})" for t in tactics)
    options = f"(config := {{ enableSimp := false, enableUnfold := false, maxGoals := {max_goals}, terminal := true }})"
    sets = "" if builtin else " (rule_sets := [-builtin])"
    return f"aesop (add {rules}) {options}{sets}"


class DraftModelConfig(CompletionConfig):
    model: str = "Qwen/QwQ-32B"
    temperature: float = Field(0.6, ge=0.0)


class SketchModelConfig(CompletionConfig):
    model: str = "deepseek-ai/DeepSeek-V3-0324"
    temperature: float = Field(0.7, ge=0.0)


class SketchConfig(BaseModel):
    model_config = {"extra": "forbid"}

    draft_model: DraftModelConfig = Field(default_factory=DraftModelConfig)
    sketch_model: SketchModelConfig = Field(default_factory=SketchModelConfig)
    # Prompts: Python format strings; empty = the DSP+-shaped defaults (prover.models.prompts DRAFT_TEMPLATE /
    # SKETCH_TEMPLATE). informal: show the benchmark's informal statement in the draft prompt when it has one.
    draft_template: str = ""
    sketch_template: str = ""
    informal: bool = True
    placeholder: str = Field("prove_with", pattern=r"^[A-Za-z_][\w']*$")

    # Budgets per attempt (DSP+: one draft and one sketch per attempt; pass@k = k attempts)
    drafts: int = Field(1, ge=1)
    sketches_per_draft: int = Field(1, ge=1)
    max_mask_rounds: int = Field(20, ge=1)  # Lean rounds of masking per sketch
    max_lean_calls: int | None = Field(1000, ge=1)
    time_limit: float | None = Field(900.0, gt=0)

    # Proving the placeholders
    clear: bool = True  # `clear * - h…` first (DSP+), keeping what the placeholder names
    retry_without_clear: bool = True  # goals left open: once more with their whole context
    automation: list[str] | None = None  # None: QUICK_TACTICS + the two Aesop calls built below
    aesop_tactics: list[str] = Field(default_factory=lambda: list(DSP_TACTICS))
    aesop_max_goals: int = Field(64, ge=1)
    automation_timeout: float = Field(30.0, gt=0)  # seconds per tactic
    search: bool = True  # the step prover's search from each placeholder's proof state
    search_expansions: int = Field(64, ge=1)
    search_time: float = Field(60.0, gt=0)
    sublemma_samples: int = Field(0, ge=0)  # whole-proof samples per open placeholder's sub-lemma (0: none)

    # Mode hybrid: one sketch attempt first, then whole proofs + repair with what is left of the budget
    first_in_hybrid: bool = False

    @field_validator("automation", "aesop_tactics")
    @classmethod
    def _no_sorry(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = [t.strip() for t in v if t.strip()]
        bad = [t for t in out if "sorry" in t or "admit" in t]
        if bad:
            raise ValueError(f"automation tactics may not use sorry/admit: {bad}")
        return out

    def portfolio(self) -> list[str]:
        if self.automation is not None:
            return list(self.automation)
        aesop = [aesop_call(self.aesop_tactics, self.aesop_max_goals, b) for b in (False, True)]
        return [*QUICK_TACTICS, *aesop] if self.aesop_tactics else list(QUICK_TACTICS)

    def uses_native_decide(self) -> bool:
        return any("native_decide" in t for t in self.portfolio())

    def fill_config(self, base: RepairConfig) -> RepairConfig:
        """The repair loop's config for filling this mode's placeholders (the fill stages of `repair.loop`)."""
        data: dict[str, Any] = base.model_dump()
        data.update(
            automation=self.portfolio(),
            automation_timeout=self.automation_timeout,
            sublemma_samples=self.sublemma_samples,
            subgoal_expansions=self.search_expansions,
            subgoal_time=self.search_time,
            max_lean_calls=self.max_lean_calls,
            time_limit=self.time_limit,
        )
        return RepairConfig.model_validate(data)
