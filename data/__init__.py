"""Benchmarks (miniF2F, ProofNet, user JSONL / .lean dirs) and, later, the Mathlib mutation pipeline."""
