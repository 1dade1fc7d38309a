"""Configuration of proof search: algorithm, scoring, budgets, multi-perspective options.

Defaults reproduce ReProver's best-first search (priority = cumulative tactic log-prob). Set
``length_alpha`` > 0 and ``tactic_score = "mean"`` for BFS-Prover-style length normalisation, and
``algorithm = "mps"`` for multi-perspective search (see `search.mps`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

PERSPECTIVES = ("policy", "critic", "heuristic", "goals", "length", "cases", "breadth")


class HeuristicWeights(BaseModel):
    """Weights of the heuristic rules (see `search.heuristics`); a rule with weight 0 is off.

    The heuristic perspective orders nodes by ``-(goals*G + length*L + cases*C + repeats*R + depth*D)``
    where G is the number of open goals, L the state length relative to the root's, C the case splits
    and R the repeated tactics on the node's path, D its depth.
    """

    model_config = {"extra": "forbid"}

    goals: float = 1.0  # fewer open goals
    length: float = 1.0  # shorter pretty-printed state (relative to the root state)
    cases: float = 0.5  # fewer case splits on the path
    repeats: float = 1.0  # penalise a tactic repeated on the same path
    depth: float = 0.0  # prefer shallow nodes (0: off)


class MPSConfig(BaseModel):
    """Multi-perspective search (MPS-Prover). See `search.mps` for what each option does."""

    model_config = {"extra": "forbid"}

    # Round-robin schedule of the perspectives the next expansion is drawn from. Repeat a name to
    # weight it, e.g. ["policy", "policy", "critic", "heuristic"]. A perspective whose source is
    # missing (no critic model) is dropped with a warning; at least one must remain.
    perspectives: list[str] = Field(default_factory=lambda: ["policy", "critic", "heuristic"])
    heuristics: HeuristicWeights = Field(default_factory=HeuristicWeights)
    # Critic scores are computed once per new state, in one batched call per expansion round.
    critic_batch_size: int = 64

    @field_validator("perspectives")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one perspective")
        bad = [p for p in v if p not in PERSPECTIVES]
        if bad:
            raise ValueError(f"unknown perspective(s) {bad}; choose from {list(PERSPECTIVES)}")
        return v


class SearchConfig(BaseModel):
    model_config = {"extra": "forbid"}

    algorithm: Literal["best_first", "mps"] = "best_first"
    # Budgets (None = unlimited; at least one of them should be finite).
    max_expansions: int | None = Field(500, ge=1)
    max_lean_calls: int | None = Field(None, ge=1)
    max_depth: int | None = Field(50, ge=1)  # nodes at this depth (tactics from the root) are not expanded
    time_limit: float | None = Field(600.0, gt=0)  # seconds of wall time per attempt
    # Per-tactic Lean timeout in seconds; None = the Lean layer's own (`lean.timeout`). It is also
    # clipped to the wall time left, so that one slow tactic cannot overrun ``time_limit``.
    tactic_timeout: float | None = Field(None, gt=0)
    # Below this many seconds of wall time left, stop instead of sending a tactic: a timeout restarts the
    # REPL (and reloads the header), which costs far more than the tactic could gain.
    min_tactic_time: float = Field(0.5, ge=0)
    # Tactics per expansion; None = `generator.num_samples`.
    num_tactics: int | None = Field(None, ge=1)
    # Frontier nodes expanded with one `generate` call (useful for batched backends such as vLLM).
    expansion_batch: int = Field(1, ge=1)
    # Scoring of the policy perspective. ReProver: tactic_score "sum", length_alpha 0 (priority =
    # sum of tactic log-probs on the path). BFS-Prover(-V2): per-token "mean" log-prob per tactic and
    # path score / depth ** length_alpha, which stops long paths from being starved.
    tactic_score: Literal["sum", "mean"] = "sum"
    length_alpha: float = Field(0.0, ge=0)
    # Stop after this many LeanCrashed edges in one attempt (the attempt then reports "error").
    max_crashes: int | None = Field(20, ge=1)
    # A proof that fails the soundness gate (e.g. it used `native_decide`) is marked "unsound" and the
    # search goes on; after this many rejections the attempt stops.
    max_gate_rejections: int = Field(5, ge=1)
    # Tactics the search never sends to Lean (exact match after normalisation), e.g. "sorry".
    banned_tactics: list[str] = Field(default_factory=lambda: ["sorry", "admit"])
    mps: MPSConfig = Field(default_factory=MPSConfig)
