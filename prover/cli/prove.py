"""``prover prove``: search for a proof of one theorem and print it.

    prover prove --benchmark minif2f --name mathd_algebra_10 [--split valid]
    prover prove --file F.lean --theorem NAME
    prover prove --statement "theorem t (a : Nat) : a + 0 = a := by" [--header "import Mathlib"]

Settings come from ``--config FILE`` (TOML/YAML), then ``--set section.key=value`` (repeatable), then
the direct flags below. Prints the proof and a one-line summary (``--json``: one JSON object instead).
Exit status: 0 proved, 1 not proved, 2 error (bad input, Lean setup, status ``error`` / ``timeout``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from prover.cli.common import add_options, config_overrides
from prover.errors import UserError

EXIT = {"proved": 0, "failed": 1, "timeout": 2, "error": 2}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prove",
        help="search for a proof of one theorem",
        description="Search for a proof of one theorem; print it and a one-line summary. "
        "Exit 0 proved, 1 not proved, 2 error.",
    )
    what = p.add_argument_group("theorem (one of three ways)")
    what.add_argument("--benchmark", metavar="B", help="benchmark name (minif2f, proofnet, ...) or a .jsonl path")
    what.add_argument("--name", metavar="N", help="theorem name in the benchmark")
    what.add_argument("--split", metavar="S", help="benchmark split (valid | test | all); default: all")
    what.add_argument("--file", type=Path, metavar="F.lean", help="a Lean file")
    what.add_argument("--theorem", metavar="NAME", help="theorem / lemma name in --file")
    what.add_argument("--statement", metavar="S", help='statement text, e.g. "theorem t : 1 + 1 = 2 := by"')
    what.add_argument("--header", metavar="H", help="header for --statement / --file (imports, opens, options)")
    what.add_argument("--header-file", type=Path, metavar="F", help="read the header from a file")

    cfg = p.add_argument_group("configuration")
    add_options(cfg, "--config", "--set", "--mode", "--preset", "--backend", "--model")
    cfg.add_argument("--device", help="generator device (generator.device: auto | cpu | cuda)")
    cfg.add_argument("-n", "--num-samples", type=int, metavar="N", help="tactics per expansion (generator.num_samples)")
    add_options(cfg, "--algorithm", "--max-expansions")
    cfg.add_argument("--max-lean-calls", type=int, metavar="N", help="search.max_lean_calls")
    cfg.add_argument("--max-depth", type=int, metavar="N", help="search.max_depth")
    add_options(cfg, "--time-limit")
    cfg.add_argument("--tactic-timeout", type=float, metavar="SECONDS", help="per-tactic Lean timeout")
    cfg.add_argument("--premises", type=int, metavar="K", help="premises per state (retrieval.k; 0 disables retrieval)")
    cfg.add_argument("--index-dir", type=Path, metavar="DIR", help="retrieval index (retrieval.index_dir)")
    add_options(cfg, "--benchmark-dir")
    cfg.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    out.add_argument("-o", "--output", type=Path, metavar="F.lean", help="write the proved theorem (with header) here")
    out.add_argument("--save-tree", type=Path, metavar="F.json", help="write the search graph as JSON")
    out.add_argument("--no-progress", action="store_true", help="no live progress line")
    p.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` items, then direct flags (later wins), as a dict for `load_config`."""
    own = {
        "generator.device": args.device,
        "generator.num_samples": args.num_samples,
        "search.max_lean_calls": args.max_lean_calls,
        "search.max_depth": args.max_depth,
        "search.tactic_timeout": args.tactic_timeout,
        "retrieval.index_dir": str(args.index_dir) if args.index_dir else None,
    }
    if args.premises is not None:
        own["retrieval.k"] = args.premises
        own["retrieval.enabled"] = args.premises > 0
    return config_overrides(args, own)


def run(args: argparse.Namespace) -> int:
    from prover.agent import Agent
    from prover.config import load_config
    from prover.theorems import load_theorem

    config = load_config(args.config, overrides_from_args(args))
    header = args.header
    if args.header_file is not None:
        if not args.header_file.is_file():
            raise UserError(f"header file not found: {args.header_file}")
        try:
            header = args.header_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{args.header_file}: cannot read it ({e})") from e
    theorem = load_theorem(
        benchmark=args.benchmark,
        name=args.name,
        split=args.split,
        benchmark_dir=config.batch.benchmark_dir,
        file=args.file,
        theorem=args.theorem,
        statement=args.statement,
        header=header,
    )
    for flag, path in (("-o", args.output), ("--save-tree", args.save_tree)):
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            raise UserError(f"{flag} {path}: not a writable file path (is a directory, or its directory is missing)")
    with Agent(config) as agent, _Progress(theorem.name, enabled=not (args.json or args.no_progress)) as progress:
        attempt = agent.prove(theorem, seed=args.seed, progress=progress.update)

    graph = attempt.graph
    stop = graph.stop_reason if graph is not None else None
    try:
        if args.save_tree is not None and graph is not None:
            graph.meta.setdefault("theorem_source", theorem.source)
            graph.save(args.save_tree)
        if args.output is not None and attempt.proof is not None:
            header_text = theorem.header.rstrip()
            args.output.write_text((f"{header_text}\n\n" if header_text else "") + attempt.proof.rstrip() + "\n")
    except OSError as e:
        raise UserError(f"cannot write {e.filename}: {e.strerror}") from e

    if args.json:
        obj = {
            "theorem": theorem.name,
            "source": theorem.source,
            "status": attempt.status,
            "proved": attempt.proved,
            "proof": attempt.proof,
            "error": attempt.error,
            "stop_reason": stop,
            "time": round(attempt.time, 3),
            "expansions": attempt.expansions,
            "lean_calls": attempt.lean_calls,
            "seed": attempt.seed,
            "lean_version": attempt.lean_version,
            "tactics": graph.proof_tactics() if graph is not None and attempt.proved else None,
            "gate_rejections": graph.meta.get("gate_rejections", []) if graph is not None else [],
            "stats": graph.meta.get("stats") if graph is not None else None,
            "tree": str(args.save_tree) if args.save_tree is not None and graph is not None else None,
            "mode": attempt.mode,
            "stage": attempt.stage,
            "samples": attempt.samples,
            "tokens": attempt.tokens,
            "mode_stats": attempt.stats or None,
        }
        print(json.dumps(obj, ensure_ascii=False))
    else:
        if attempt.proof is not None:
            print(attempt.proof)
        print(summary_line(attempt, stop))
    return EXIT.get(attempt.status, 2)


def summary_line(attempt: Any, stop: str | None) -> str:
    name = attempt.theorem.name
    if attempt.mode != "step":
        return _whole_summary(attempt)
    counts = f"{attempt.expansions} expansions, {attempt.lean_calls} Lean calls, {attempt.time:.1f}s"
    if attempt.status == "proved":
        return f"proved {name}: {counts}"
    if attempt.status == "failed":
        why = {
            "expansions": "expansion budget spent",
            "lean_calls": "Lean-call budget spent",
            "time": "time limit reached",
            "exhausted": "no tactic left to try",
            "depth": "depth limit reached everywhere",
            "unsound": "proofs found were rejected by the soundness gate",
        }.get(stop or "", stop or "no proof")
        rej = attempt.graph.meta.get("gate_rejections") if attempt.graph is not None else None
        extra = f"; gate: {rej[-1]}" if rej else ""
        return f"not proved {name} ({why}{extra}): {counts}"
    return f"{attempt.status} {name}: {attempt.error}: {counts}"


def _whole_summary(attempt: Any) -> str:
    """The summary of a whole-proof mode: which stage closed the proof, what the attempt spent."""
    name, st = attempt.theorem.name, attempt.stats or {}
    counts = f"{attempt.samples} samples, {attempt.lean_calls} Lean calls, {attempt.time:.1f}s"
    if attempt.status == "proved":
        return f"proved {name} ({attempt.mode}, stage {attempt.stage}): {counts}"
    if attempt.status == "failed":
        why = st.get("reason") or attempt.error or ("budget spent" if st.get("stop") else "no sound proof")
        left = st.get("remaining")
        extra = f"; {len(left)} goal(s) left" if left else ""
        return f"not proved {name} ({attempt.mode}: {why}{extra}): {counts}"
    return f"{attempt.status} {name}: {attempt.error}: {counts}"


class _Progress:
    """A live one-line status on stderr (rich), only on a terminal."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name = name
        self.enabled = enabled
        self._live: Any = None
        self._last = 0.0

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console

            console = Console(stderr=True)
            if console.is_terminal:
                from rich.live import Live
                from rich.text import Text

                self._text = Text
                self._live = Live(Text(f"{self.name}: starting Lean…"), console=console, transient=True)
                self._live.__enter__()
        return self

    def update(self, st: Any) -> None:
        if self._live is None:
            return
        if st.expansions == 0:  # the search's first call: Lean accepted the statement
            self._live.update(self._text(f"{self.name}: statement elaborated; first expansion (generating tactics)…"))
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._live.update(
            self._text(
                f"{self.name}: {st.expansions} expansions, {st.lean_calls} Lean calls, {st.nodes} states, "
                f"frontier {st.frontier}, depth {st.max_depth}, {st.errors} errors, {st.elapsed:.1f}s"
            )
        )

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
