"""Contrastive training of the dense retriever (ReProver's recipe), on CPU or under ``torchrun`` (DDP).

One example is (query, one gold premise). A batch of ``B`` examples brings ``B`` positives and ``B * n``
hard negatives, each drawn from the premises *accessible* to its query that are not gold for it: ``n_bm25`` of
them from BM25's top ``bm25_depth`` for the query (optional; mined lazily, once per example), ``n_in_file`` from
the same file as the positive (ReProver's in-file negatives), the rest uniformly. The loss is InfoNCE over all
premises in the batch (in-batch negatives): cross-entropy of ``q · p / temperature`` against the query's own
positive, with other columns that are gold for the query masked out.

On CPU the texts of a batch are embedded in chunks of similar token length (padding is most of the cost
otherwise); characters the tokenizer can only read as ``[UNK]`` (``∀``, ``ℕ``, ``∑``, ... for MiniLM) can be
added as tokens of their own (``add_unk_symbols``). Checkpoints carry the optimizer state, so a run resumes.

Data: queries from LeanDojo traced tactics (``state_before`` → annotated premises) or, from a Lean source
corpus, theorem statements → the premises their proofs name (`Corpus.uses`); the held-out split of
`retrieval.evaluate.split_of` is never trained on. Checkpoints are ``save_pretrained`` folders (model + tokenizer
+ ``retriever.json``) that `retrieval.dense.Encoder` and ``retrieval.model`` load.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prover.errors import UserError
from prover.lean.types import Theorem
from retrieval.corpus import Corpus
from retrieval.evaluate import split_of
from retrieval.lean_source import statement_without_name
from retrieval.text import premise_text

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TrainExample:
    query: str
    positives: list[int]  # corpus indices, accessible to the query
    file_idx: int
    line: int | None


# ---------------------------------------------------------------------------------------------------
# Data


def examples_from_corpus(
    corpus: Corpus, splits: Sequence[str] = ("train",), tactic_only: bool = False
) -> list[TrainExample]:
    """Statement → named premises, for declarations (theorems and lemmas) of ``splits`` whose proofs name some."""
    out: list[TrainExample] = []
    for i, p in enumerate(corpus.premises):
        if p.kind not in ("theorem", "lemma") or (tactic_only and not corpus.tactic_proof[i]):
            continue
        gold = corpus.uses(i)
        if gold.size == 0 or split_of(p.full_name) not in splits:
            continue
        out.append(TrainExample(statement_without_name(p.code), gold.tolist(), int(corpus.premise_file[i]), p.line))
    return out


def load_leandojo_records(path: Path | str) -> list[dict[str, Any]]:
    """Per-tactic records from LeanDojo data: a benchmark theorem JSON (list of theorems with ``traced_tactics``)
    or a JSONL of flattened tactic records (``state_before``, ``premises``). Returns flat dicts with
    ``full_name, file_path, start, state_before, tactic, premises`` (premises: ``full_name``/``def_path``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    out: list[dict[str, Any]] = []
    if path.suffix == ".jsonl":
        for line in text.splitlines():
            if line.strip():
                r = json.loads(line)
                out.append({
                    "full_name": r.get("full_name"), "file_path": r.get("file_path"), "start": r.get("start"),
                    "state_before": r["state_before"], "tactic": r.get("tactic", ""),
                    "premises": list(r.get("premises", [])),
                })
        return out
    data = json.loads(text)
    if isinstance(data, dict):
        data = [data]
    for thm in data:
        for t in thm.get("traced_tactics", []):
            ann = t.get("annotated_tactic") or ["", []]
            prem = ann[1] if isinstance(ann, list) and len(ann) > 1 else []
            out.append({
                "full_name": thm.get("full_name"), "file_path": thm.get("file_path"), "start": thm.get("start"),
                "state_before": t["state_before"], "tactic": t.get("tactic", ""), "premises": list(prem),
            })
    return out


def leandojo_theorems(path: Path | str) -> list[Any]:
    """LeanDojo benchmark theorems as `prover.lean.types.Theorem` (``source`` = ``file:line``, ``meta`` keeps
    ``file_path``/``start``/``url``/``commit``), so retrieval knows where they live."""
    from prover.lean.types import Theorem

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for thm in data if isinstance(data, list) else [data]:
        fp, start = thm.get("file_path", ""), thm.get("start") or [0, 0]
        out.append(Theorem(
            name=thm["full_name"], statement="", header="", source=f"{fp}:{start[0]}",
            meta={"file_path": fp, "line": start[0], "start": start, "url": thm.get("url"),
                  "commit": thm.get("commit"), "traced_tactics": len(thm.get("traced_tactics", []))},
        ))
    return out


def examples_from_leandojo(records: Iterable[dict[str, Any]], corpus: Corpus) -> list[TrainExample]:
    """Tactic states with at least one annotated premise that is in the corpus and accessible."""
    out: list[TrainExample] = []
    for r in records:
        where = {"file_path": r.get("file_path"), "line": (r.get("start") or [None])[0]}
        loc = corpus.locate(Theorem("", "", meta=where))
        if loc is None:
            continue
        fi, line = loc
        mask = corpus.accessible_from_file(fi, line)
        pos = []
        for p in r.get("premises", []):
            for j in corpus.name_index.get(p.get("full_name", ""), []):
                if mask[j]:
                    pos.append(j)
                    break
        if pos:
            out.append(TrainExample(r["state_before"], sorted(set(pos)), fi, line))
    return out


# ---------------------------------------------------------------------------------------------------
# Negatives


class NegativeSampler:
    def __init__(self, corpus: Corpus, rng: random.Random) -> None:
        self.corpus = corpus
        self.rng = rng
        self.file_ranges = np.searchsorted(corpus.premise_file, np.arange(len(corpus.files) + 1))

    def sample(self, ex: TrainExample, positive: int, n: int, n_in_file: int,
               hard: Sequence[int] = (), n_hard: int = 0) -> list[int]:
        """``n`` accessible non-gold premises: up to ``n_hard`` from ``hard`` (e.g. BM25's top hits), up to
        ``n_in_file`` from the positive's file, the rest uniformly."""
        c = self.corpus
        mask = c.accessible_from_file(ex.file_idx, ex.line)
        gold = set(ex.positives)
        out: list[int] = []
        pool = [j for j in hard if mask[j] and j not in gold]
        out.extend(self.rng.sample(pool, min(n_hard, n, len(pool))))
        f = int(c.premise_file[positive])
        lo, hi = int(self.file_ranges[f]), int(self.file_ranges[f + 1])
        in_file = [j for j in range(lo, hi) if mask[j] and j not in gold and j not in out]
        self.rng.shuffle(in_file)
        out.extend(in_file[: max(0, min(n_in_file, n - len(out)))])
        n_acc = int(mask.sum())
        tries = 0
        while len(out) < n and tries < 50 * n:
            j = self.rng.randrange(len(c))
            tries += 1
            if mask[j] and j not in gold and j not in out:
                out.append(j)
        if len(out) < n and n_acc:  # tiny corpora: allow repeats of accessible non-gold premises
            pool = [j for j in np.flatnonzero(mask).tolist() if j not in gold] or [positive]
            while len(out) < n:
                out.append(self.rng.choice(pool))
        while len(out) < n:
            out.append(positive if not out else out[-1])
        return out


class BM25Negatives:
    """Hard-negative candidates from BM25: the query's top ``depth`` accessible non-gold premises (no prior),
    computed when an example is first drawn and kept."""

    def __init__(self, bm25: Any, corpus: Corpus, depth: int = 30) -> None:
        self.bm25 = bm25
        self.corpus = corpus
        self.depth = depth
        self._cache: dict[int, list[int]] = {}

    def __call__(self, ex: TrainExample) -> list[int]:
        key = id(ex)
        got = self._cache.get(key)
        if got is None:
            mask = self.corpus.accessible_from_file(ex.file_idx, ex.line)
            idx, _ = self.bm25.retrieve_indices(ex.query, mask, self.depth + len(ex.positives), prior_weight=0.0)
            gold = set(ex.positives)
            got = self._cache[key] = [int(j) for j in idx if int(j) not in gold][: self.depth]
        return got


def add_unk_symbols(encoder: Any, texts: Iterable[str], n: int, min_count: int = 20) -> list[str]:
    """Add the ``n`` most frequent characters of ``texts`` that the tokenizer reads only as its unknown token
    (MiniLM: ``∀ ∃ ℕ ℤ ∑ ⊤ ⊥ ≃ ⟶`` ...) as tokens of their own, their embeddings starting as the unknown
    token's (so the model's outputs are unchanged until training moves them). Returns the chosen characters
    (those a resumed tokenizer already has count and are kept); tokenizer and resized model are saved with
    every checkpoint."""
    from collections import Counter

    tok = encoder.tokenizer
    unk = tok.unk_token_id
    if n <= 0 or unk is None:
        return []
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(ch for ch in t if ord(ch) > 127)
    vocab = tok.get_vocab()
    added_before = set(tok.get_added_vocab())  # a resumed run's tokenizer has them already: they count
    chosen: list[str] = []
    for ch, k in counts.most_common():
        if len(chosen) >= n or k < min_count:
            break
        if ch in added_before or (ch not in vocab and tok(ch, add_special_tokens=False)["input_ids"] == [unk]):
            chosen.append(ch)
    new = [ch for ch in chosen if ch not in added_before]
    if not new:
        return chosen
    tok.add_tokens(new)
    emb = encoder.model.resize_token_embeddings(len(tok), mean_resizing=False)
    import torch

    with torch.no_grad():
        for ch in new:
            emb.weight[tok.convert_tokens_to_ids(ch)] = emb.weight[unk]
    return chosen


# ---------------------------------------------------------------------------------------------------
# Loss


def contrastive_loss(q: Any, p: Any, gold_mask: Any, temperature: float) -> Any:
    """InfoNCE: ``q`` (B×d), ``p`` (M×d) with the positive of query ``i`` at column ``i``; ``gold_mask`` (B×M)
    marks other columns that are also gold for the query (excluded from the softmax)."""
    import torch

    logits = q @ p.T / temperature
    logits = logits.masked_fill(gold_mask, float("-inf"))
    labels = torch.arange(q.shape[0], device=q.device)
    return torch.nn.functional.cross_entropy(logits, labels)


@dataclass
class TrainConfig:
    model: str | None = None  # encoder to start from (None: packaged MiniLM)
    out_dir: str = "runs/retriever"
    steps: int = 1000
    batch_size: int = 16  # examples per device per step
    num_negatives: int = 3  # hard negatives per example
    num_in_file_negatives: int = 1  # of which from the positive's file
    num_bm25_negatives: int = 0  # of which from BM25's top `bm25_depth` for the query (needs a BM25 index)
    bm25_depth: int = 30
    lr: float = 2e-5
    warmup_steps: int = 100
    temperature: float = 0.05
    max_length: int = 256
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    save_every: int = 0  # 0: only at the end
    bf16: bool = True  # autocast on CUDA
    length_chunk: int = 32  # single process: embed texts in chunks of this many, sorted by length (0: one batch)
    add_unk_symbols: int = 0  # add up to this many [UNK]-only characters of the training texts as tokens


TRAINER_STATE = "trainer_state.pt"


def latest_checkpoint(out_dir: Path | str) -> Path | None:
    """The ``checkpoint-N`` folder of ``out_dir`` with the largest ``N`` that holds a trainer state."""
    best: tuple[int, Path] | None = None
    for d in Path(out_dir).glob("checkpoint-*"):
        n = d.name.removeprefix("checkpoint-")
        if n.isdigit() and (d / TRAINER_STATE).is_file() and (best is None or int(n) > best[0]):
            best = (int(n), d)
    return best[1] if best else None


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / max(1, cfg.warmup_steps)
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class Trainer:
    """One process of a (possibly distributed) training run."""

    def __init__(self, cfg: TrainConfig, corpus: Corpus, examples: list[TrainExample], encoder: Any = None,
                 bm25: Any = None) -> None:
        import torch

        from retrieval.dense import Encoder, pick_device, premise_style_for

        self.cfg = cfg
        self.corpus = corpus
        self.examples = examples
        if not examples:
            raise UserError("no training examples (no theorem in the corpus names an accessible premise)")
        self.world, self.rank, local = _dist_info()
        self.distributed = self.world > 1
        device = pick_device(cfg.device)
        if self.distributed:
            import torch.distributed as dist

            backend = "nccl" if device.startswith("cuda") else "gloo"
            if not dist.is_initialized():
                dist.init_process_group(backend)
            if device.startswith("cuda"):
                torch.cuda.set_device(local)
                device = f"cuda:{local}"
        self.encoder = encoder or Encoder(cfg.model, device=device, max_length=cfg.max_length)
        self.encoder.max_length = cfg.max_length
        self.style = premise_style_for(self.encoder.name)
        self.added_tokens: list[str] = []
        if cfg.add_unk_symbols:
            texts = (t for src in ([e.query for e in examples], (premise_text(p, self.style) for p in corpus.premises))
                     for t in src)
            self.added_tokens = add_unk_symbols(self.encoder, texts, cfg.add_unk_symbols)
            if self.added_tokens and self.rank == 0:
                log.info("added %d tokens: %s", len(self.added_tokens), " ".join(self.added_tokens))
        self.base_model = self.encoder.model
        if cfg.num_bm25_negatives and bm25 is None:
            raise UserError("BM25 hard negatives need a BM25 index (build one with `prover index build`)")
        self.bm25_negatives = BM25Negatives(bm25, corpus, cfg.bm25_depth) if cfg.num_bm25_negatives else None
        self.model = self.base_model
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # BERT-like models carry a pooler that mean pooling never uses: let DDP skip its gradients
            self.model = DDP(self.base_model, device_ids=[local] if device.startswith("cuda") else None,
                             find_unused_parameters=True)
        self.opt = torch.optim.AdamW(self.base_model.parameters(), lr=cfg.lr, weight_decay=0.01)
        self.rng = random.Random(cfg.seed * 1000 + self.rank)
        self.sampler = NegativeSampler(corpus, self.rng)
        self.step = 0
        self._torch = torch
        self._order: list[int] = []

    def _next_examples(self) -> list[TrainExample]:
        out = []
        while len(out) < self.cfg.batch_size:
            if not self._order:
                order = list(range(len(self.examples)))
                random.Random(self.cfg.seed + self.step).shuffle(order)  # same permutation on every rank
                self._order = order[self.rank :: self.world] or order
            out.append(self.examples[self._order.pop()])
        return out

    def make_batch(self, exs: list[TrainExample]) -> tuple[list[str], list[str], Any]:
        cfg = self.cfg
        queries, pos_ids, neg_ids = [], [], []
        for ex in exs:
            pos = self.rng.choice(ex.positives)
            queries.append(ex.query)
            pos_ids.append(pos)
            hard = self.bm25_negatives(ex) if self.bm25_negatives is not None else ()
            neg_ids.extend(self.sampler.sample(ex, pos, cfg.num_negatives, cfg.num_in_file_negatives,
                                               hard, cfg.num_bm25_negatives))
        cols = pos_ids + neg_ids
        texts = [premise_text(self.corpus.premises[j], self.style) for j in cols]
        gold = np.zeros((len(exs), len(cols)), dtype=bool)
        for i, ex in enumerate(exs):
            g = set(ex.positives)
            for j, c in enumerate(cols):
                if j != i and c in g:
                    gold[i, j] = True
        return queries, texts, self._torch.from_numpy(gold)

    def _embed(self, texts: list[str]) -> Any:
        chunk = self.cfg.length_chunk
        if self.distributed or not chunk or len(texts) <= chunk:  # DDP wants one forward per backward
            return self._embed_padded(texts)
        torch = self._torch
        lengths = [len(ids) for ids in self.encoder.tokenizer(texts, truncation=True,
                                                              max_length=self.encoder.max_length)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        parts = [self._embed_padded([texts[i] for i in order[s : s + chunk]]) for s in range(0, len(texts), chunk)]
        inverse = torch.empty(len(texts), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(texts))
        return torch.cat(parts)[inverse.to(parts[0].device)]

    def _embed_padded(self, texts: list[str]) -> Any:
        enc = self.encoder
        torch = self._torch
        batch = enc.tokenizer(texts, padding=True, truncation=True, max_length=enc.max_length,
                              return_tensors="pt").to(enc.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
        emb = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(emb.float(), dim=-1)

    def train_step(self, batch: tuple[list[str], list[str], Any] | None = None) -> float:
        torch = self._torch
        cfg = self.cfg
        queries, texts, gold = batch if batch is not None else self.make_batch(self._next_examples())
        for g in self.opt.param_groups:
            g["lr"] = _lr_at(self.step, cfg)
        self.model.train()
        use_amp = cfg.bf16 and str(self.encoder.device).startswith("cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            # one forward over queries and premises, so DDP sees a single pass over the shared encoder
            emb = self._embed(list(queries) + list(texts))
            q, p = emb[: len(queries)], emb[len(queries) :]
            loss = contrastive_loss(q, p, gold.to(q.device), cfg.temperature)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.base_model.parameters(), 1.0)
        self.opt.step()
        self.step += 1
        return float(loss.detach())

    def save(self, out: Path) -> None:
        if self.rank != 0:
            return
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.base_model.save_pretrained(out)
        self.encoder.tokenizer.save_pretrained(out)
        meta = {"base_model": self.encoder.name, "premise_style": self.style, "step": self.step,
                "train_config": asdict(self.cfg), "num_examples": len(self.examples),
                "added_tokens": self.added_tokens}
        (out / "retriever.json").write_text(json.dumps(meta, indent=1))
        self._torch.save({"step": self.step, "optimizer": self.opt.state_dict(), "order": self._order,
                          "rng": self.rng.getstate(), "torch_rng": self._torch.get_rng_state()},  # dropout
                         out / TRAINER_STATE)

    def load_state(self, ckpt: Path) -> None:
        """Continue from a checkpoint of this run (its weights are what the encoder was loaded from)."""
        state = self._torch.load(Path(ckpt) / TRAINER_STATE, map_location=self.encoder.device, weights_only=False)
        self.step = int(state["step"])
        self.opt.load_state_dict(state["optimizer"])
        self._order = list(state["order"])
        self.rng.setstate(state["rng"])
        if "torch_rng" in state:
            self._torch.set_rng_state(state["torch_rng"])

    def run(self, progress: bool = True) -> list[float]:
        from tqdm import tqdm

        cfg = self.cfg
        losses: list[float] = []
        t0 = time.perf_counter()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="training retriever", unit="step",
                   disable=not progress or self.rank != 0)
        curve = Path(cfg.out_dir) / "train_log.jsonl"
        while self.step < cfg.steps:
            loss = self.train_step()
            losses.append(loss)
            bar.update(1)
            if self.rank == 0 and cfg.log_every and self.step % cfg.log_every == 0:
                avg = sum(losses[-cfg.log_every :]) / min(len(losses), cfg.log_every)
                bar.set_postfix(loss=f"{avg:.4f}", lr=f"{_lr_at(self.step, cfg):.2e}")
                log.info("step %d loss %.4f (%.1f s)", self.step, avg, time.perf_counter() - t0)
                curve.parent.mkdir(parents=True, exist_ok=True)
                with curve.open("a") as fh:  # one line per log interval: the loss curve survives a crash
                    fh.write(json.dumps({"step": self.step, "loss": round(avg, 5), "lr": _lr_at(self.step - 1, cfg),
                                         "seconds": round(time.perf_counter() - t0, 1), "time": time.time()}) + "\n")
            if cfg.save_every and self.step % cfg.save_every == 0:
                self.save(Path(cfg.out_dir) / f"checkpoint-{self.step}")
        bar.close()
        self.save(Path(cfg.out_dir) / "final")
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()
        return losses
