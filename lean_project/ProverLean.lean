/-
Smoke test of the prover's Lean project: `lake build` compiles this file, which proves that the
Mathlib cache was fetched and the toolchain matches. The prover itself sends its theorems to the REPL.
-/
import Mathlib

theorem prover_lean_smoke (a b : ℕ) : a + b = b + a := by
  omega
