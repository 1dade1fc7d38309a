"""Training throughput of tiny models on CPU: tokens/s of `prover train sft` (causal GPT-2 via trl's SFTTrainer,
seq2seq T5 via Seq2SeqTrainer) and of `prover train dpo`, side by side.

    python benchmarks/bench_train.py [--rows 256] [--steps 30] [--batch-size 8] [--json OUT]

The models are randomly initialised and tiny (4 layers, width 128 by default; ``--width`` / ``--layers``); the point
is to catch regressions in the data path and the trainer set-up (tokenisation, collation, logging, checkpoints),
not to claim a training speed. tokens/s = the input tokens the Trainer saw (prompt + completion, padding included)
over the span of ``trainer.train()`` (``train_seconds`` / ``tokens_seen`` in ``OUT/final/prover.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from batch_fakes import double_config  # noqa: E402

from data.export import Exporter, StepRecord, write_steps  # noqa: E402
from prover.lean.types import TacticState  # noqa: E402
from prover.train.config import TrainConfig  # noqa: E402
from prover.train.sources import export  # noqa: E402
from search.graph import SearchGraph  # noqa: E402


def models(root: Path, width: int, layers: int) -> dict[str, Path]:
    import torch
    from test_models_hf import EOS, byte_tokenizer
    from transformers import ByT5Tokenizer, GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    out = {}
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=EOS + 2, n_positions=1024, n_embd=width, n_layer=layers, n_head=4,
                                      bos_token_id=EOS, eos_token_id=EOS))  # fmt: skip
    gpt2.save_pretrained(root / "gpt2")
    byte_tokenizer().save_pretrained(root / "gpt2")
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=384, d_model=width, d_kv=8, d_ff=2 * width, num_layers=layers,
                                             num_decoder_layers=layers, num_heads=4, decoder_start_token_id=0,
                                             pad_token_id=0, eos_token_id=1))  # fmt: skip
    t5.save_pretrained(root / "t5")
    ByT5Tokenizer().save_pretrained(root / "t5")
    out["gpt2"], out["t5"] = root / "gpt2", root / "t5"
    return out


def data(root: Path, rows: int) -> dict[str, Path]:
    states = [f"a b c : ℕ\nh{i} : a + {i} < b\nh' : b < c\n⊢ a + {i} < c" for i in range(rows)]
    recs = [StepRecord(f"t{i}", s, f"exact lt_trans h{i} h'", origin="bench") for i, s in enumerate(states)]
    write_steps(root / "steps.jsonl", recs)
    cfg = double_config(Path("/dev/null"), **{"train.export.holdout": [], "train.export.valid_fraction": 0.0,
                                              "generator.prompt_format": "bfs"})  # fmt: skip
    export([root / "steps.jsonl"], "sft", root / "sft", cfg)
    ex = Exporter("dpo", cfg.generator, cfg.train.export)
    for i, s in enumerate(states):
        g = SearchGraph(TacticState.of_goals([s], 0), theorem=f"t{i}")
        g.add_edge(g.root, "linarith [foo]", "error", error="unknown identifier 'foo'")
        g.add_edge(g.root, f"exact lt_trans h{i} h'", "proved")
        g.mark_expanded(g.root)
        ex.add_graph(g, ex._theorem("bench", f"t{i}"), "bench")
    ex.write(root / "dpo")
    return {"sft": root / "sft", "dpo": root / "dpo"}


def run(kind: str, model: Path, data_dir: Path, out: Path, args: argparse.Namespace) -> dict:
    from prover.train.dpo import train_dpo
    from prover.train.sft import train_sft

    cfg = TrainConfig.model_validate({
        "device": "cpu", "max_steps": args.steps, "batch_size": args.batch_size, "logging_steps": args.steps,
        "save_steps": args.steps, "learning_rate": 1e-3,
    })  # fmt: skip
    t0 = time.perf_counter()
    (train_dpo if kind == "dpo" else train_sft)(data_dir, out, cfg, str(model))
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "final" / "prover.json").read_text())["metrics"]
    runtime, tokens = metrics["train_seconds"], metrics["tokens_seen"]
    return {"wall": wall, "train_runtime": runtime, "tokens": tokens, "tokens_per_s": tokens / runtime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    res: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ms, ds = models(tmp, args.width, args.layers), data(tmp, args.rows)
        base = None
        for name, kind, model in (("sft causal (trl SFTTrainer)", "sft", "gpt2"),
                                  ("sft seq2seq (Seq2SeqTrainer)", "sft", "t5"),
                                  ("dpo causal (trl DPOTrainer)", "dpo", "gpt2")):  # fmt: skip
            r = run(kind, ms[model], ds[kind], tmp / f"out-{kind}-{model}", args)
            base = base or r["tokens_per_s"]
            print(f"{name:30s} {r['tokens_per_s']:9.0f} tokens/s  ({r['tokens']} tokens, {args.steps} steps in "
                  f"{r['train_runtime']:.1f}s; x{r['tokens_per_s'] / base:.2f} of causal sft)")  # fmt: skip
            res[f"{kind}_{model}"] = r
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
