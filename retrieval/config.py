"""Configuration of premise retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class RetrievalConfig(BaseModel):
    model_config = {"extra": "forbid", "protected_namespaces": ()}

    enabled: bool = False
    index_dir: Path | None = None  # corpus + indexes written by `prover index build`
    k: int = 20  # premises in the generator's prompt
    # bm25 | dense | auto (dense when index_dir holds a dense index, else bm25)
    method: Literal["auto", "bm25", "dense"] = "auto"
    # Corpus sources used when index_dir holds no corpus yet: Lean source trees, *.tar.zst archives, or one
    # LeanDojo corpus.jsonl. The corpus is then built once and cached (in index_dir, else cache_dir).
    sources: list[Path] = Field(default_factory=list)
    cache_dir: Path | None = None  # default: $PROVER_CACHE_DIR/retrieval or ~/.cache/lean-prover/retrieval
    # Dense encoder: a HF id or folder (e.g. kaiyuy/leandojo-lean4-retriever-byt5-small, or a checkpoint of
    # scripts/train_retriever.py); None = the model the dense index was built with (MiniLM by default).
    model: str | None = None
    device: str = "auto"  # auto | cpu | cuda
    index_type: Literal["flat", "hnsw", "ivf"] = "flat"  # faiss index for `prover index build`
    max_length: int = 256  # encoder tokens per premise / query
    batch_size: int = 64  # premises per embedding batch
    query_with_statement: bool = False  # query = goal state + theorem statement
    # Weight of the premise-usage prior (retrieval/prior.py) added to the retriever's score; None = the weight
    # `prover index build` chose on the corpus's validation split (stored with the index); 0 turns it off.
    prior_weight: float | None = Field(default=None, ge=0)
