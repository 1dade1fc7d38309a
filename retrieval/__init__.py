"""Premise retrieval: Lean corpus and accessibility, BM25 and dense (faiss) retrievers, training."""
