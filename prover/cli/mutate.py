"""``prover data mutate``: new verified theorems from a library's theorems (the Alchemy pipeline, prefiltered).

    prover data mutate --source DIR|ARCHIVE --out DIR [--kinds rw,apply] [--limit N] [--files GLOB]
                       [--leandojo FILE] [--workers N] [--ray auto|ADDRESS|local]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prover.cli.common import add_options, config_overrides


def register_data_mutate(dsub: argparse._SubParsersAction) -> None:
    """``prover data mutate`` (registered under ``prover data``)."""
    p = dsub.add_parser(
        "mutate",
        help="mutate a library's theorems with rw / apply into new verified theorems (Alchemy)",
        description="Open each theorem of a Lean source tree at its place in the REPL, try the premises a "
        "prefilter picks with `rw [T]`, `rw [← T]`, `rw [T] at h` and `have h : P := by apply T`, build the "
        "mutated statements with proofs that restore the original, verify every one through the soundness gate, "
        "and write the verified theorems (mutants.jsonl), their (state, tactic) pairs (steps.jsonl, for `prover "
        "data export`) and summary.json. Resumable: run the same command again to continue.",
    )
    p.add_argument("--source", type=Path, metavar="DIR|ARCHIVE",
                   help="Lean source tree or .tar.zst/.tar.gz archive (default: the Mathlib of the Lean project)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="run directory (store and outputs)")
    p.add_argument("--kinds", metavar="K[,K]", help="rw, apply or rw,apply (mutate.kinds; default both)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N theorems (files in path order)")
    p.add_argument("--files", action="append", default=[], metavar="GLOB",
                   help="only files matching this glob relative to the source (repeatable), e.g. 'Mathlib/Logic/*'")
    p.add_argument("--leandojo", type=Path, metavar="FILE",
                   help="only the theorems of this LeanDojo traced data (JSON list or JSONL with full_name, file_path)")
    p.add_argument("--workers", type=int, metavar="N", help="REPL workers (mutate.workers)")
    p.add_argument("--ray", metavar="ADDRESS", help="run the workers on Ray: auto, ADDRESS or local")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the text summary")
    add_options(p, "--config", "--set", "--lean-project")
    p.set_defaults(func=run_mutate_cmd)


def run_mutate_cmd(args: argparse.Namespace) -> int:
    from data.mutate.candidates import leandojo_selection, source_root
    from data.mutate.output import format_summary
    from data.mutate.premises import PremiseSource
    from data.mutate.runner import LocalBackend, MutationRun, RayBackend
    from prover.config import load_config
    from prover.errors import UserError
    from retrieval.corpus import build_corpus, default_cache_dir

    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    extra: dict = {}
    if args.kinds:
        extra["mutate.kinds"] = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.workers is not None:
        extra["mutate.workers"] = args.workers
    if args.ray:
        extra["mutate.ray_address"] = args.ray
    config = load_config(args.config, config_overrides(args, extra))
    source = args.source
    if source is None:
        source = Path(config.lean.project_dir) / ".lake" / "packages" / "mathlib"
        if not source.is_dir():
            raise UserError(f"no Mathlib source at {source} (run scripts/setup_lean.sh, or give --source)")
    root = source_root(source)
    selection = leandojo_selection(args.leandojo) if args.leandojo else None
    if config.lean.replay_path is None and not args.ray:
        from prover.lean.project import resolve_repl_command

        # Fail in a second when Lean is missing, not after minutes of scanning the corpus (Ray actors check
        # on their own nodes).
        resolve_repl_command(config.lean)
    corpus = build_corpus([source], progress=not args.no_progress)
    m = config.mutate
    prefilter = PremiseSource.build(corpus, alpha=m.alpha, prior_weight=m.prior_weight,
                                    namespace_weight=m.namespace_weight, cache_dir=default_cache_dir(),
                                    progress=not args.no_progress)
    backend = RayBackend(config, prefilter) if args.ray else LocalBackend(config, prefilter)
    run = MutationRun(config, root, args.out, prefilter, files=args.files, selection=selection, limit=args.limit,
                      backend=backend, progress=not args.no_progress)
    summary = run.run()
    report = json.loads((args.out / "summary.json").read_text(encoding="utf-8"))
    print(json.dumps(report, indent=1, ensure_ascii=False) if args.json else format_summary(report, args.out))
    if summary.fatal:
        print(f"prover data mutate: error: {summary.fatal}", file=sys.stderr, flush=True)
        return 2
    return 130 if summary.interrupted else 0
