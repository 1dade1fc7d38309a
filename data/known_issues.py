"""Statements of the primary benchmarks known to be false, vacuous or meaningless at the pinned commits.

Keyed by ``(benchmark, split, name)``; the value is a one-line reason. Source: reading the statements and
the goals DeepSeek ships (see ``shared/benchmarks/SOURCES.md``); none of it is compile-checked. `prover
data download` writes these into the ``known_issue`` field; batch runs report such theorems apart.
"""

from __future__ import annotations

KNOWN_ISSUES: dict[tuple[str, str, str], str] = {
    ("minif2f", "valid", "mathd_algebra_433"): (
        "goal `f 8 = 19` is false (3*sqrt 9 - 8 = 1); DS-V1.5 has `= 1`; changed by yangky11 commit 652d5fe"
    ),
    ("minif2f", "test", "algebra_cubrtrp1oncubrtreq3_rcubp1onrcubeq5778"): (
        "no `r ≥ 0` hypothesis (Kimina-rectified adds `hr : r ≥ 0`); Real.rpow of a negative base is non-standard"
    ),
    ("minif2f", "test", "mathd_algebra_208"): (
        "`1000000^(1/3)`: exponent elaborates in ℕ (1/3 = 0), statement false; DS-V1.5 uses ((1 : ℝ) / 3)"
    ),
    ("minif2f", "test", "mathd_algebra_275"): (
        "`(11:ℝ)^(1 / 4)`: exponent ℕ (= 0), hypothesis 1 = 1/5 false, vacuous; Kimina-rectified uses (1 / 4 : ℝ)"
    ),
    ("minif2f", "test", "mathd_algebra_289"): (
        "ℕ truncated subtraction in h₂/h₃ (k^2 - m*k + n = 0 forces n = 0, but n prime): hypotheses "
        "unsatisfiable, vacuous; DS-V1.5 casts to ℤ"
    ),
    ("minif2f", "test", "mathd_algebra_314"): (
        "`(1 / 4)` is ℕ division (= 0): statement trivially true; Kimina-rectified uses (1 / 4 : ℝ)"
    ),
    ("proofnet", "valid", "Rudin_exercise_1_5"): (
        "`Inf A = Sup minus_A` (rahul3613: `Min A = Max minus_A`) compares typeclasses, not sInf/sSup: meaningless"
    ),
    ("proofnet", "test", "Munkres_exercise_24_3a"): (
        "`I` is not the unit interval but an auto-bound arbitrary type: statement false (both DS-V1.5 and rahul3613)"
    ),
}
