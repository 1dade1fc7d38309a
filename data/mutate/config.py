"""Configuration of the mutation pipeline (``[mutate]`` section; ``prover data mutate`` flags override it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

KINDS = ("rw", "apply")

# Pretty-printer options under which a printed goal reads back as the same term (APOLLO, arXiv 2505.05758, sets
# these before extracting lemmas from goals): numerals and coercions with their types, binder types shown.
DEFAULT_PP_OPTIONS = [
    "pp.numericTypes",
    "pp.coercions.types",
    "pp.funBinderTypes",
    "pp.piBinderTypes",
    "pp.letVarTypes",
    "pp.mvars.withType",
]


class MutateConfig(BaseModel):
    model_config = {"extra": "forbid"}

    kinds: list[Literal["rw", "apply"]] = Field(default_factory=lambda: list(KINDS))
    # Prefilter budget: rewrite rules (premise, direction) tried per target (the goal and each hypothesis),
    # and premises tried with `apply` per hypothesis.
    rewrites_per_target: int = 224  # ≈ 1% of the accessible (theorem, premise) pairs on Mathlib (benchmark)
    applies_per_hypothesis: int = 16
    alpha: float = 1.0  # weight of a premise side's keys missing from the target (see data.mutate.prefilter)
    prior_weight: float = 2.0  # weight of log(1 + proofs rewriting with the premise) (data.mutate.premises)
    namespace_weight: float = 2.0  # bonus / malus of a premise whose namespace the theorem does / does not mention
    max_mutants_per_theorem: int = 64  # verified at most; the rest are recorded as not tried
    pp_options: list[str] = Field(default_factory=lambda: list(DEFAULT_PP_OPTIONS))
    context_timeout: float = 1800.0  # seconds to elaborate a file's text up to a theorem (one chunk)
    workers: int = 1  # local workers (threads), one REPL process each
    retries: int = 1  # a theorem whose work ended in an infrastructure error is redone this many times
    # Ray (`--ray auto|ADDRESS|local`): one actor per worker, each with its own REPL process.
    ray_address: str | None = None
    ray_cpus: float = 1.0
    ray_max_restarts: int = 2

    @field_validator("rewrites_per_target", "applies_per_hypothesis", "max_mutants_per_theorem", "retries")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be at least 0")
        return v

    @field_validator("workers")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"name at least one of {', '.join(KINDS)}")
        return list(dict.fromkeys(v))

    @field_validator("pp_options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        for o in v:
            if not o or any(c.isspace() for c in o):
                raise ValueError(f"{o!r} is not an option name")
        return v
