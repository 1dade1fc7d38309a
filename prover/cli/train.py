"""``prover data export``: training data from batch runs, search graphs, LeanDojo data and step files.

    prover data export RUN_DIR... --kind sft|dpo|critic --out DIR [--prompt-format F] [--holdout SPEC]...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from prover.cli.common import add_options, config_overrides


def register_data_export(dsub: argparse._SubParsersAction) -> None:
    """``prover data export`` (registered under ``prover data``)."""
    e = dsub.add_parser(
        "export",
        help="training data (sft / dpo / critic / whole) from batch runs, search graphs, LeanDojo data",
        description="Read batch run directories (their store and the search graphs saved with `prover batch "
        "--save-graphs`), saved search graphs (`prover prove --save-tree`), LeanDojo Benchmark 4 traced JSON/JSONL "
        "or step files, and write a Hugging Face datasets folder: train/valid JSONL (or Parquet) split by theorem, "
        "deduplicated, curated, without held-out benchmark theorems, with prompts rendered as the generator "
        "renders them at inference, and manifest.json (counts per filter, the held-out check).",
    )
    e.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="run directory, graph(s), steps or LeanDojo file"
    )
    e.add_argument(
        "--kind",
        required=True,
        choices=["sft", "dpo", "critic", "whole"],
        help="sft / dpo / critic: step-prover data from search graphs; whole: gated whole proofs (whole.prompt_format)",
    )
    e.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    e.add_argument(
        "--prompt-format",
        metavar="F",
        help="generator.prompt_format the model will run with (reprover, bfs, internlm25, internlm2, plain, template; "
        "auto: from --model)",
    )
    e.add_argument(
        "--holdout",
        action="append",
        metavar="SPEC",
        help="held-out set (BENCHMARK:SPLIT, BENCHMARK or a .jsonl/.lean path), repeatable; default "
        "train.export.holdout (minif2f:test, proofnet:test)",
    )
    e.add_argument("--no-holdout", action="store_true", help="no held-out set (say so knowingly)")
    e.add_argument("--valid-fraction", type=float, metavar="X", help="share of theorems in the valid split")
    e.add_argument("--parquet", action="store_true", help="write Parquet instead of JSONL")
    e.add_argument("--ppl-model", metavar="M", help="perplexity-filter sft rows with this model (both tails)")
    e.add_argument("--json", action="store_true", help="print the manifest")
    add_options(e, "--config", "--set", "--model", "--benchmark-dir")
    e.set_defaults(func=run_export_cmd)


def run_export_cmd(args: argparse.Namespace) -> int:
    from prover.config import load_config
    from prover.train.sources import export, summary_line

    holdout = [] if args.no_holdout else args.holdout
    extra = {
        "generator.prompt_format": args.prompt_format,
        "train.export.holdout": holdout,
        "train.export.valid_fraction": args.valid_fraction,
        "train.export.file_format": "parquet" if args.parquet else None,
        "train.export.ppl_model": args.ppl_model,
    }
    config = load_config(args.config, config_overrides(args, extra))
    manifest = export(args.inputs, args.kind, args.out, config)
    if args.json:
        print(json.dumps(manifest, indent=1, ensure_ascii=False))
    else:
        print(summary_line(manifest))
        print(f"written: {args.out}")
    return 0


# ---------------------------------------------------------------------------------------------------
# prover train


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the tactic generator (sft, dpo), a critic, or run expert iteration",
        description="Train with the libraries' trainers (trl SFT / DPO, transformers Trainer) on data from "
        "`prover data export`, on CPU, one GPU, or many (`accelerate launch` / `torchrun -m prover train ...`, "
        "DeepSpeed / FSDP from train.deepspeed / train.fsdp). OUT/final is a checkpoint the hf and vllm generators "
        "(generator.model) or the critic (generator.critic.model) load as is. Re-running resumes from the last "
        "checkpoint in OUT.",
    )
    tsub = p.add_subparsers(dest="train_command", metavar="KIND", required=True)
    for kind, what in (
        ("sft", "supervised fine-tuning of a tactic generator (causal: trl SFTTrainer; seq2seq: Seq2SeqTrainer)"),
        ("dpo", "DPO of a causal tactic generator on exported preference pairs (trl DPOTrainer)"),
        ("critic", "a critic head (regression on -distance, or provable/dead classification) for MPS search"),
    ):
        t = tsub.add_parser(kind, help=what, description=what)
        t.add_argument("--data", required=True, type=Path, metavar="DIR", help=f"output of `data export --kind {kind}`")
        t.add_argument("--out", required=True, type=Path, metavar="OUT", help="output directory (checkpoints, final/)")
        t.add_argument("--model", dest="train_model", metavar="M", help="base model (train.model or generator.model)")
        t.add_argument("--max-steps", type=int, metavar="N", help="train.max_steps")
        t.add_argument("--lora", action="store_true", help="train LoRA adapters (merged into final/)")
        t.add_argument("--force", action="store_true", help="train into OUT even if it holds another run")
        add_options(t, "--config", "--set")
        t.set_defaults(func=run_train_cmd, kind=kind)
    it = tsub.add_parser(
        "iterate",
        help="expert iteration: batch with the current model → export → filter → train, for N rounds",
        description="Each round runs `prover batch` over the theorem pool with the current checkpoint (graphs "
        "saved), exports SFT data from every round so far (held-out sets excluded, theorems a round already solves "
        "easily dropped), trains the next checkpoint and prunes solved theorems from the pool. OUT/round-K/round.json "
        "records each stage; re-running the same command resumes after a crash at any stage.",
    )
    it.add_argument("--benchmark", required=True, metavar="B", help="theorem pool: a benchmark name or .jsonl / .lean")
    it.add_argument("--split", metavar="S")
    it.add_argument("--name", action="append", default=[], metavar="PATTERN", help="only theorems matching (glob)")
    it.add_argument("--limit", type=int, metavar="N")
    it.add_argument("--out", required=True, type=Path, metavar="OUT")
    it.add_argument("--rounds", type=int, metavar="R", help="train.iterate.rounds")
    it.add_argument("--attempts", "-k", type=int, metavar="K", help="train.iterate.attempts (batch attempts per round)")
    it.add_argument("--workers", "-j", type=int, metavar="N", help="batch.workers")
    it.add_argument("--ray", metavar="auto|ADDRESS|local", help="run each round's batch on Ray (batch.ray_address)")
    it.add_argument("--model", dest="train_model", metavar="M", help="first model (train.model or generator.model)")
    add_options(it, "--config", "--set", "--backend", "--benchmark-dir")
    it.set_defaults(func=run_iterate_cmd)


def _train_config(args: argparse.Namespace, extra: dict) -> Any:
    from prover.config import load_config

    return load_config(args.config, config_overrides(args, extra))


def run_train_cmd(args: argparse.Namespace) -> int:
    from prover.train.critic import train_critic
    from prover.train.dpo import train_dpo
    from prover.train.sft import train_sft

    extra = {"train.model": args.train_model, "train.max_steps": args.max_steps,
             "train.lora.enabled": True if args.lora else None}  # fmt: skip
    config = _train_config(args, extra)
    model = config.train.model or config.generator.model
    fn = {"sft": train_sft, "dpo": train_dpo, "critic": train_critic}[args.kind]
    metrics = fn(args.data, args.out, config.train, model, force=args.force)
    if metrics:
        shown = {k: round(v, 4) for k, v in metrics.items() if k in ("train_loss", "eval_loss") and v is not None}
        print(f"trained {args.kind}: {args.out / 'final'} {json.dumps(shown)}")
    else:
        print(f"already trained: {args.out / 'final'}")
    return 0


def run_iterate_cmd(args: argparse.Namespace) -> int:
    from data.benchmarks import load_theorems, select
    from prover.errors import UserError
    from prover.train.iterate import run_iterate

    extra = {
        "train.model": args.train_model,
        "train.iterate.rounds": args.rounds,
        "train.iterate.attempts": args.attempts,
        "batch.workers": args.workers,
        "batch.ray_address": args.ray,
    }
    config = _train_config(args, extra)
    theorems = load_theorems(args.benchmark, args.split, config.batch.benchmark_dir)
    sel = select(theorems, split=args.split, patterns=args.name, limit=args.limit, known_issues="skip")
    if not sel.theorems:
        raise UserError("no theorem selected (check --split / --name / --limit)")
    result = run_iterate(config, sel.theorems, args.out)
    for r in result["rounds"]:
        print(
            f"round {r['round']}: pool {r['pool']}, solved {r['solved']}, train rows {r.get('train_rows')}, "
            f"model {r.get('trained_model')}"
        )
    print(f"final model: {result['model']}")
    return 0
