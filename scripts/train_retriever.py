"""Train the dense premise retriever (contrastive, in-batch + accessible hard negatives; ReProver's recipe).

CPU smoke test (a few steps, small batch):

    python scripts/train_retriever.py --index-dir runs/index --steps 20 --batch-size 4 --out runs/retriever-smoke

GPUs (DDP; one process per GPU):

    torchrun --nproc_per_node=8 scripts/train_retriever.py --index-dir runs/index --steps 20000 \\
        --batch-size 32 --num-negatives 3 --out runs/retriever

Data: ``--leandojo FILE`` (LeanDojo benchmark theorem JSON, e.g. ``random/train.json``, or a JSONL of traced
tactics) gives goal states → annotated premises; without it, the corpus's own theorems give statement → the
premises their proofs name. The held-out split (``retrieval.evaluate.split_of``) is never trained on.
The corpus comes from ``--index-dir`` (built by ``prover index build``) or ``--source`` (built and cached).
The result, ``OUT/final``, is a Hugging Face folder: ``prover index build --method dense --model OUT/final``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from retrieval.corpus import Corpus, build_corpus  # noqa: E402
from retrieval.train import (  # noqa: E402
    TrainConfig,
    Trainer,
    examples_from_corpus,
    examples_from_leandojo,
    latest_checkpoint,
    load_leandojo_records,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_argument_group("data")
    src.add_argument("--index-dir", type=Path, help="index directory holding corpus.json (prover index build)")
    src.add_argument("--source", action="append", type=Path, default=[], help="corpus source (tree / .tar.zst)")
    src.add_argument("--cache-dir", type=Path, help="cache for unpacked archives and corpora")
    src.add_argument("--leandojo", action="append", type=Path, default=[],
                     help="LeanDojo traced data (theorem JSON or tactic JSONL); repeatable")
    src.add_argument("--tactic-only", action="store_true", help="corpus examples: only theorems with tactic proofs")
    src.add_argument("--max-examples", type=int, help="use at most this many examples")
    d = TrainConfig()
    tr = ap.add_argument_group("training")
    tr.add_argument("--model", default=d.model, help="encoder to start from (default: packaged MiniLM)")
    tr.add_argument("--out", default=d.out_dir, help="output directory (checkpoints, final/)")
    tr.add_argument("--steps", type=int, default=d.steps)
    tr.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per device per step")
    tr.add_argument("--num-negatives", type=int, default=d.num_negatives, help="hard negatives per example")
    tr.add_argument("--num-in-file-negatives", type=int, default=d.num_in_file_negatives)
    tr.add_argument("--num-bm25-negatives", type=int, default=d.num_bm25_negatives,
                    help="hard negatives from BM25's top hits for the query (of --num-negatives)")
    tr.add_argument("--bm25-depth", type=int, default=d.bm25_depth, help="BM25 negatives come from this top-k")
    tr.add_argument("--lr", type=float, default=d.lr)
    tr.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    tr.add_argument("--temperature", type=float, default=d.temperature)
    tr.add_argument("--max-length", type=int, default=d.max_length)
    tr.add_argument("--seed", type=int, default=d.seed)
    tr.add_argument("--device", default=d.device, help="auto | cpu | cuda")
    tr.add_argument("--save-every", type=int, default=d.save_every)
    tr.add_argument("--log-every", type=int, default=d.log_every)
    tr.add_argument("--no-bf16", action="store_true", help="no bf16 autocast on CUDA")
    tr.add_argument("--length-chunk", type=int, default=d.length_chunk,
                    help="single process: embed in length-sorted chunks of this many texts (0: one padded batch)")
    tr.add_argument("--add-unk-symbols", type=int, default=d.add_unk_symbols,
                    help="add up to N characters the tokenizer reads only as [UNK] (∀, ℕ, ∑, ...) as tokens")
    tr.add_argument("--resume", action="store_true", help="continue from the latest OUT/checkpoint-N")
    tr.add_argument("--threads", type=int, help="CPU threads for torch (e.g. 1 on a shared machine)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    if args.index_dir is not None:
        corpus = Corpus.load(args.index_dir)
    elif args.source:
        corpus = build_corpus(args.source, cache_dir=args.cache_dir)
    else:
        ap.error("give --index-dir or --source")
    if args.leandojo:
        examples = []
        for f in args.leandojo:
            examples.extend(examples_from_leandojo(load_leandojo_records(f), corpus))
    else:
        examples = examples_from_corpus(corpus, splits=("train",), tactic_only=args.tactic_only)
    if args.max_examples:
        examples = examples[: args.max_examples]
    cfg = TrainConfig(
        model=args.model, out_dir=args.out, steps=args.steps, batch_size=args.batch_size,
        num_negatives=args.num_negatives, num_in_file_negatives=args.num_in_file_negatives, lr=args.lr,
        warmup_steps=args.warmup_steps, temperature=args.temperature, max_length=args.max_length, seed=args.seed,
        device=args.device, log_every=args.log_every, save_every=args.save_every, bf16=not args.no_bf16,
        num_bm25_negatives=args.num_bm25_negatives, bm25_depth=args.bm25_depth, length_chunk=args.length_chunk,
        add_unk_symbols=args.add_unk_symbols,
    )
    bm25 = None
    if cfg.num_bm25_negatives:
        from retrieval.bm25 import BM25Retriever

        bm25 = BM25Retriever.load(args.index_dir / "bm25", corpus) if args.index_dir is not None else None
        bm25 = bm25 or BM25Retriever.build(corpus)
    ckpt = latest_checkpoint(args.out) if args.resume else None
    encoder = None
    if ckpt is not None:
        from retrieval.dense import Encoder

        encoder = Encoder(ckpt, device=args.device, max_length=cfg.max_length)
    trainer = Trainer(cfg, corpus, examples, encoder=encoder, bm25=bm25)
    if ckpt is not None:
        trainer.load_state(ckpt)
        print(f"resumed from {ckpt} (step {trainer.step})", file=sys.stderr)
    if trainer.rank == 0:
        print(f"{len(examples)} examples, {len(corpus)} premises, world size {trainer.world}, "
              f"device {trainer.encoder.device}", file=sys.stderr)
    losses = trainer.run()
    if trainer.rank == 0:
        k = max(1, min(10, len(losses) // 5))
        summary = {"steps": len(losses), "loss_first": sum(losses[:k]) / k, "loss_last": sum(losses[-k:]) / k,
                   "checkpoint": str(Path(args.out) / "final")}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
