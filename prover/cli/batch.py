"""``prover batch``, ``prover report`` and ``prover data``.

    prover batch --benchmark minif2f --split test --attempts 8 --workers 16 --out runs/minif2f-test [--config C]
    prover batch --benchmark my.jsonl | DIR_OF_LEAN_FILES --out RUN_DIR [--name 'imo_*'] [--names-file F] [--limit N]
    prover batch ... --ray auto | --ray HOST:PORT          (the same batch on a Ray cluster)
    prover report RUN_DIR                                   (re-render report.html / .json / .csv from the store)
    prover data download minif2f | proofnet | putnambench | formalmath_lite | formalmath_all [--dest DIR]
    prover data list                                        (benchmarks found in the benchmark directory)

Re-running the same ``prover batch`` command resumes: finished attempts are not redone.
Exit status of ``batch``: 0 every attempt recorded, 2 error (bad input, Lean setup, results not saved),
130 interrupted (finished results are kept; rerun to resume).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from prover.cli.common import add_options, config_overrides
from prover.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    _register_batch(sub)
    _register_report(sub)
    _register_data(sub)


# ---------------------------------------------------------------------------------------------------
# batch


def _register_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="run the prover over a benchmark (K attempts per theorem, parallel, resumable)",
        description="Run the step prover on every selected theorem, K independent attempts each, with a pool "
        "of Lean workers; results go to RUN_DIR/results.sqlite as they finish, and re-running the same command "
        "resumes. Writes report.html/json and CSVs at the end (see `prover report`).",
    )
    what = p.add_argument_group("theorems")
    what.add_argument(
        "--benchmark",
        required=True,
        metavar="B",
        help="minif2f | proofnet | minif2f_dsv15 | minif2f_rectified | proofnet_dsv15, a .jsonl file with the "
        "same fields, or a directory of .lean files",
    )
    what.add_argument("--split", metavar="S", help="valid | test | all (default: all splits)")
    what.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only theorems matching this glob (or re:REGEX); repeatable",
    )
    what.add_argument("--names-file", type=Path, metavar="F", help="only the theorems listed in F (one per line)")
    what.add_argument("--limit", type=int, metavar="N", help="only the first N selected theorems")
    what.add_argument(
        "--known-issues",
        choices=["mark", "skip", "include"],
        help="statements flagged false/vacuous: mark = run and report apart (default), skip = leave out, "
        "include = treat them like the rest",
    )
    what.add_argument(
        "--answers",
        choices=["inline", "free"],
        help="PutnamBench answer placeholders: inline = upstream's answers in the statements (default, as upstream's "
        "rewrite_solutions.py), free = the prover must write the answer too",
    )
    add_options(what, "--benchmark-dir")

    run = p.add_argument_group("run")
    run.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="run directory (store + reports)")
    run.add_argument("--attempts", "-k", type=int, metavar="K", help="independent attempts per theorem (seeds)")
    run.add_argument("--workers", "-j", type=int, metavar="N", help="Lean workers (one REPL process each)")
    run.add_argument("--seed", type=int, metavar="S", help="attempt i uses seed S+i (default 0)")
    run.add_argument(
        "--ray", metavar="auto|ADDRESS|local", help="run on a Ray cluster (prover + generator actors); local: start one"
    )
    run.add_argument("--force", action="store_true", help="add to RUN_DIR even if its config differs")
    run.add_argument("--dry-run", action="store_true", help="print the selection and exit")
    run.add_argument("--no-progress", action="store_true", help="no live progress bar")
    run.add_argument("--no-report", action="store_true", help="do not write the reports at the end")
    run.add_argument(
        "--save-graphs",
        action="store_true",
        help="keep every attempt's search graph in RUN_DIR/graphs (batch.graphs_dir): training data for "
        "`prover data export`",
    )
    run.add_argument(
        "--agent-factory",
        metavar="MODULE:NAME",
        help="advanced: a prover.batch.AgentFactory (or a function returning one) to build the agents",
    )

    cfg = p.add_argument_group("configuration")
    add_options(
        cfg, "--config", "--set", "--mode", "--preset", "--backend", "--model", "--algorithm", "--max-expansions",
        "--time-limit",
    )
    p.set_defaults(func=run_batch_cmd)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return config_overrides(
        args,
        {
            "batch.attempts": args.attempts,
            "batch.workers": args.workers,
            "batch.seed": args.seed,
            "batch.known_issues": args.known_issues,
            "batch.answers": args.answers,
            "batch.ray_address": args.ray,
            "batch.graphs_dir": str(args.out / "graphs") if getattr(args, "save_graphs", False) else None,
        },
    )


def run_time_bound(n_theorems: int, config: Any) -> str | None:
    """How long the run can take at most: every attempt that fails uses its whole ``search.time_limit``
    (244 miniF2F theorems × 600 s on one CPU worker is 40 hours); None without a time limit."""
    b, limit = config.batch, config.search.time_limit
    if limit is None:
        return None
    hours = n_theorems * b.attempts * limit / max(1, b.workers) / 3600
    when = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    return (
        f"at most {when} of wall time ({n_theorems} × {b.attempts} attempt(s) × search.time_limit {limit:g} s / "
        f"{b.workers} worker(s); failing attempts use their whole time limit, proofs found early end sooner)"
    )


def load_factory(spec: str) -> Any:
    """``module:name`` → the object (called with no arguments first if it is a plain function)."""
    from prover.batch.runner import AgentFactory

    if ":" not in spec:
        raise UserError(f"--agent-factory {spec!r}: expected MODULE:NAME")
    mod, name = spec.split(":", 1)
    try:
        obj = getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as e:
        raise UserError(f"--agent-factory {spec!r}: {e}") from e
    if not isinstance(obj, AgentFactory) and callable(obj):  # a class or a function that returns one
        obj = obj()
    if not isinstance(obj, AgentFactory):
        raise UserError(f"--agent-factory {spec!r}: not an AgentFactory")
    return obj


def _warn_lean_version(theorems: list[Any], config: Any, benchmark: str) -> None:
    """One line, before any model loads, when the statements' Lean version differs from the project's."""
    from data.benchmarks import lean_version_warning
    from prover.lean.project import project_dir, read_toolchain

    msg = lean_version_warning(theorems, read_toolchain(project_dir(config.lean)), benchmark)
    if msg:
        print(f"prover batch: warning: {msg}", file=sys.stderr)


def _check_answer_mode(out: Path, answers: str | None, force: bool) -> None:
    """A run directory holds one PutnamBench answer mode: the statements differ between them."""
    from prover.batch.store import DB_NAME, ResultStore

    if answers is None or force or not (Path(out) / DB_NAME).is_file():
        return
    try:
        with ResultStore.in_run_dir(out, readonly=True) as store:
            old = store.get_meta("answers")
    except UserError:
        return
    if old and old != answers:
        raise UserError(
            f"{out} holds a run with --answers {old}; this one asks for --answers {answers}: use another --out"
        )


def run_batch_cmd(args: argparse.Namespace) -> int:
    from data.benchmarks import benchmark_run_info, load_theorems, select
    from prover.batch.report import format_summary, write_report
    from prover.batch.runner import BatchRunner
    from prover.config import load_config

    config = load_config(args.config, _overrides(args))
    b = config.batch
    theorems = load_theorems(args.benchmark, args.split, b.benchmark_dir, answers=b.answers)
    sel = select(
        theorems,
        split=args.split,
        patterns=args.name,
        names_file=args.names_file,
        limit=args.limit,
        known_issues=b.known_issues,
    )
    if not sel.theorems:
        raise UserError("no theorem selected (check --split / --name / --names-file / --limit)")
    skipped = [{"name": t.name, "reason": t.meta.get("known_issue")} for t in sel.skipped_known]
    info = {
        "benchmark": args.benchmark,
        "split": args.split or "all",
        "selection": {"name": args.name, "names_file": str(args.names_file or ""), "limit": args.limit},
        "known_issues_mode": b.known_issues,
        "skipped_known": skipped,
        **benchmark_run_info(args.benchmark, sel.theorems, b.answers),
    }
    _check_answer_mode(args.out, info.get("answers"), args.force)
    marked = sel.marked_known if b.known_issues == "mark" else []
    print(
        f"prover batch: {len(sel.theorems)} theorems × {b.attempts} attempt(s), {b.workers} worker(s)"
        + (f" on Ray ({b.ray_address})" if b.ray_address else "")
        + (f"; {len(marked)} known-issue statement(s) marked" if marked else "")
        + (f"; {len(skipped)} known-issue statement(s) skipped" if skipped else "")
        + (f"; {len(info['corrected'])} corrected statement(s) reported apart" if info.get("corrected") else "")
        + f" → {args.out}",
        file=sys.stderr,
    )
    estimate = run_time_bound(len(sel.theorems), config)
    if estimate:
        print(f"prover batch: {estimate}", file=sys.stderr)
    _warn_lean_version(sel.theorems, config, args.benchmark)
    g = config.generator
    # (the automation backend has no model to sample from: its attempts repeat whatever the decoding says)
    sampled = config.uses_step_model and g.backend != "automation"
    if b.attempts > 1 and sampled and (g.decoding == "beam" or g.temperature == 0):
        print(
            "prover batch: warning: the generator decodes deterministically (beam search / temperature 0), so the "
            f"{b.attempts} attempts of a theorem will mostly repeat each other; for pass@k set "
            "generator.decoding=sample (e.g. --set generator.decoding=sample)",
            file=sys.stderr,
        )
    if args.dry_run:
        for t in sel.theorems:
            flag = f"  [known issue: {t.meta['known_issue']}]" if t.meta.get("known_issue") else ""
            print(f"{t.meta.get('key', t.name)}{flag}")
        return 0
    factory = load_factory(args.agent_factory) if args.agent_factory else None
    backend = None
    if b.ray_address:
        from prover.batch.ray_backend import RayBackend

        backend = RayBackend(config, factory)
    runner = BatchRunner(
        config,
        sel.theorems,
        args.out,
        factory=factory,
        backend=backend,
        progress=not args.no_progress,
        info=info,
        force=args.force,
    )
    summary = runner.run()
    if summary.skipped_done:
        print(f"prover batch: resumed: {summary.skipped_done} attempt(s) were already done", file=sys.stderr)
    if not args.no_report:
        try:
            rep = write_report(args.out)
            print(format_summary(rep))
            print(f"report: {Path(args.out) / 'report.html'}")
        except OSError as e:
            print(f"prover batch: warning: could not write the reports: {e}", file=sys.stderr)
    if summary.unsaved:
        print(
            f"prover batch: error: {summary.unsaved} finished result(s) could not be written to the store; saved to "
            f"{summary.unsaved_path}",
            file=sys.stderr,
        )
        return 2
    if summary.fatal:
        print(f"prover batch: error: {summary.fatal}", file=sys.stderr)
        return 2
    if summary.interrupted:
        print(
            f"prover batch: interrupted after {summary.ran} of {summary.todo} attempts; finished results are in "
            f"{args.out} — rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    return 0


# ---------------------------------------------------------------------------------------------------
# report


def _register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="re-render the reports of a batch run from its store, or compare runs side by side",
        description="One RUN_DIR: compute pass@k (unbiased estimator), per-subject numbers and costs from "
        "RUN_DIR/results.sqlite and write report.json, report.html (plots, sortable theorem table), theorems.csv, "
        "attempts.csv and proofs.jsonl into it; works while the run is still going. Several RUN_DIRs: compare them "
        "(solved sets and their overlap, pass@k curves on one plot, cost) into one HTML page (--out), reading the "
        "runs without writing into them.",
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", type=Path, metavar="FILE", help="comparison page (default: compare.html here)")
    p.add_argument("--no-plots", action="store_true", help="HTML without plots (no matplotlib)")
    p.add_argument("--json", action="store_true", help="print the report (or comparison) as JSON")
    p.set_defaults(func=run_report_cmd)


def run_report_cmd(args: argparse.Namespace) -> int:
    from prover.batch.report import format_summary, write_report

    if len(args.run_dirs) > 1:
        from prover.batch.compare import format_comparison, write_comparison

        out = args.out or Path("compare.html")
        cmp = write_comparison(args.run_dirs, out, plots_too=not args.no_plots)
        print(json.dumps(cmp, indent=1, default=str) if args.json else format_comparison(cmp))
        print(f"comparison: {out}")
        return 0
    if args.out:
        raise UserError("--out is for comparing several runs; one run's reports go into its RUN_DIR")
    run_dir = args.run_dirs[0]
    try:
        rep = write_report(run_dir, plots_too=not args.no_plots)
    except OSError as e:  # a read-only or full run directory: the store was read, the files cannot be written
        raise UserError(f"cannot write the reports into {run_dir}: {e.strerror or e}") from e
    if args.json:
        print(json.dumps(rep, indent=1, default=str))
    else:
        print(format_summary(rep))
        print(f"report: {run_dir / 'report.html'}")
    return 0


# ---------------------------------------------------------------------------------------------------
# data


def _register_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="benchmark data: download, list; training data: export, mutate")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = dsub.add_parser(
        "download",
        help="fetch a benchmark from its pinned upstream and convert it to JSONL",
        description="Fetch the pinned upstream sources (miniF2F: yangky11/miniF2F-lean4 + facebookresearch/miniF2F; "
        "ProofNet: rahul3613/ProofNet-lean4 + zhangir-azerbayev/ProofNet; PutnamBench: trishullab/PutnamBench; "
        "FormalMATH: the Hugging Face datasets SphereLab/FormalMATH-Lite / -All through `datasets`) and write "
        "the JSONL files `prover batch --benchmark NAME` reads (`prover data list` shows them).",
    )
    from data.download import NAMES

    d.add_argument("name", choices=NAMES)
    d.add_argument(
        "--dest", type=Path, metavar="DIR", help="output directory (default $PROVER_BENCHMARK_DIR or ~/.cache/...)"
    )
    d.add_argument("--revision", metavar="REV", help="FormalMATH: Hugging Face dataset revision (default: pinned)")
    d.add_argument(
        "--from-file", type=Path, metavar="FILE", help="FormalMATH: convert a local copy of the dataset file (offline)"
    )
    d.set_defaults(func=run_download_cmd)
    ls = dsub.add_parser("list", help="benchmarks available in the benchmark directory")
    ls.add_argument("--benchmark-dir", type=Path, metavar="DIR")
    ls.set_defaults(func=run_list_cmd)
    from prover.cli.mutate import register_data_mutate
    from prover.cli.train import register_data_export

    register_data_export(dsub)
    register_data_mutate(dsub)


def run_download_cmd(args: argparse.Namespace) -> int:
    from data.config import download_dir
    from data.download import download

    dest = args.dest or download_dir()
    for path in download(args.name, dest, revision=args.revision, from_file=args.from_file):
        n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        print(f"{path}: {n} theorems")
    return 0


def run_list_cmd(args: argparse.Namespace) -> int:
    from data.benchmarks import BENCHMARKS, REGISTRY, benchmark_file, lean_version
    from data.config import default_benchmark_dir

    d = args.benchmark_dir or default_benchmark_dir()
    print(f"benchmark directory: {d}")
    for name, splits in BENCHMARKS.items():
        info = REGISTRY[name]
        parts = []
        for s in splits:
            f = benchmark_file(name, s, d)
            if f.is_file():
                n = sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
                parts.append(f"{s} {n}")
            else:
                parts.append(f"{s} missing")
        lean = f"Lean {lean_version(info.lean_toolchain)}" if info.lean_toolchain else "Lean ?"
        print(f"  {name}: {', '.join(parts)}  ({lean}; {info.source})")
    return 0
