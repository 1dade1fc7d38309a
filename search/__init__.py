"""Proof search: the search graph, best-first and multi-perspective search, proof text extraction."""
