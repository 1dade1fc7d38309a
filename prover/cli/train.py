"""``prover data export``: training data from batch runs, search graphs, LeanDojo data and step files.

    prover data export RUN_DIR... --kind sft|dpo|critic --out DIR [--prompt-format F] [--holdout SPEC]...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prover.cli.common import add_options, config_overrides


def register_data_export(dsub: argparse._SubParsersAction) -> None:
    """``prover data export`` (registered under ``prover data``)."""
    e = dsub.add_parser(
        "export",
        help="training data (sft / dpo / critic) from batch runs, search graphs, LeanDojo data",
        description="Read batch run directories (their store and the search graphs saved with `prover batch "
        "--save-graphs`), saved search graphs (`prover prove --save-tree`), LeanDojo Benchmark 4 traced JSON/JSONL "
        "or step files, and write a Hugging Face datasets folder: train/valid JSONL (or Parquet) split by theorem, "
        "deduplicated, curated, without held-out benchmark theorems, with prompts rendered as the generator "
        "renders them at inference, and manifest.json (counts per filter, the held-out check).",
    )
    e.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="run directory, graph(s), steps or LeanDojo file"
    )
    e.add_argument("--kind", required=True, choices=["sft", "dpo", "critic"], help="what to export")
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
