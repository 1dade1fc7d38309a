"""Lean 4 neural theorem prover: Lean layer, models, agent and the `prover` CLI."""
