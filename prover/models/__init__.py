"""Tactic generators and critics behind small protocols (HF transformers, vLLM, HTTP, automation)."""
