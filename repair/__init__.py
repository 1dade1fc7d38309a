"""Whole-proof repair (roadmap, not built yet): read Lean's errors, split failing parts into sub-lemmas,
close them with automation or the step prover, recombine, re-verify."""
