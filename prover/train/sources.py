"""The inputs of `prover data export`: what each path is, read into `data.export.Exporter`.

A path is a batch run directory (``results.sqlite``; its graphs in ``batch.graphs_dir`` as recorded in the
store, else ``RUN_DIR/graphs``), a directory of saved search graphs, one graph file (``.json`` /
``.json.gz`` from ``--save-tree``), a steps file (`data.export.write_steps`) or LeanDojo traced data.
Run directories are read here rather than in `data` because the store belongs to `prover.batch`, a layer
above `data`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.export import (
    Exporter,
    Holdout,
    RunData,
    is_leandojo_file,
    is_steps_file,
    leandojo_steps,
    read_steps,
)
from prover.batch.store import DB_NAME, ResultStore
from prover.errors import UserError


def graph_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz")))


def _benchmark_meta(spec: str | None, split: str | None, benchmark_dir: Any) -> dict[str, dict[str, Any]]:
    """The fields of the run's benchmark rows (informal statements, ...) by theorem key; ``{}`` when the
    benchmark cannot be read any more (the store alone still gives names, headers and statements)."""
    if not spec:
        return {}
    from data.benchmarks import load_theorems

    try:
        ts = load_theorems(spec, None if split in (None, "", "all") else split, benchmark_dir)
    except (UserError, OSError, ValueError):
        return {}
    return {str(t.meta.get("key") or t.name): dict(t.meta) for t in ts}


def read_run_dir(run_dir: Path | str, benchmark_dir: Any = None) -> RunData:
    run_dir = Path(run_dir)
    with ResultStore.in_run_dir(run_dir, readonly=True) as store:
        theorems = store.theorems()
        attempts = store.attempts()
        config = store.get_meta("config") or {}
        spec, split = store.get_meta("benchmark"), store.get_meta("split")
    gdir = (config.get("batch") or {}).get("graphs_dir")
    candidates = [Path(gdir)] if gdir else []
    candidates.append(run_dir / "graphs")  # also when the run directory was moved
    files: list[Path] = []
    for d in candidates:
        if d.is_dir():
            files = graph_files(d)
            break
    bdir = benchmark_dir or (config.get("batch") or {}).get("benchmark_dir")
    meta = _benchmark_meta(spec, split, bdir)
    return RunData(path=str(run_dir), theorems=theorems, attempts=attempts, graph_files=files, meta=meta)


def _is_graph_file(path: Path) -> bool:
    if path.name.endswith(".json.gz"):
        return True
    if path.suffix != ".json":
        return False
    try:
        with path.open(encoding="utf-8") as f:
            return '"prover-search-graph"' in f.read(200)
    except OSError:
        return False


def add_input(exporter: Exporter, path: Path | str, benchmark_dir: Any = None) -> str:
    """Read one input into ``exporter``; returns what it was (``run``, ``graphs``, ``graph``, ``steps``,
    ``leandojo``). Anything else is a one-line error."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    if p.is_dir():
        if (p / DB_NAME).is_file():
            run = read_run_dir(p, benchmark_dir)
            if not run.graph_files and exporter.kind != "whole":
                print(
                    f"prover data export: {p}: no saved search graphs (run `prover batch --save-graphs`); "
                    "only the store's proofs are used",
                    file=sys.stderr,
                )
            exporter.add_run(run)
            return "run"
        files = graph_files(p)
        if not files:
            raise UserError(f"{p}: neither a batch run directory (no {DB_NAME}) nor a directory of search graphs")
        for f in files:
            exporter.add_graph_file(f)
        return "graphs"
    if _is_graph_file(p):
        exporter.add_graph_file(p)
        return "graph"
    if is_steps_file(p):
        exporter.add_steps(read_steps(p), str(p))
        return "steps"
    if is_leandojo_file(p):
        exporter.add_steps(leandojo_steps(p), str(p))
        return "leandojo"
    raise UserError(
        f"{p}: not a run directory, search graph, steps file or LeanDojo traced data; see `prover data export -h`"
    )


def export(
    inputs: Sequence[Path | str],
    kind: str,
    out_dir: Path | str,
    config: Any,
    *,
    scorer: Any = None,
) -> dict[str, Any]:
    """`prover data export`: read ``inputs``, curate, write ``out_dir``; returns the manifest. ``config`` is a
    `prover.config.ProverConfig` (``generator`` decides the prompt format, ``train.export`` the curation)."""
    if not inputs:
        raise UserError("give at least one input (a batch run directory, search graphs, steps or LeanDojo data)")
    cfg = config.train.export
    holdout = Holdout.load(cfg.holdout, config.batch.benchmark_dir) if cfg.holdout else Holdout()
    if scorer is None and cfg.ppl_model and kind in ("sft", "whole"):
        from prover.train.perplexity import PerplexityScorer

        scorer = PerplexityScorer.load(cfg.ppl_model, device=cfg.ppl_device, batch_size=cfg.ppl_batch_size)
    exporter = Exporter(kind, config.generator, cfg, holdout=holdout, scorer=scorer, whole=config.whole)
    for path in inputs:
        add_input(exporter, path, config.batch.benchmark_dir)
    return exporter.write(out_dir)


def summary_line(manifest: dict[str, Any]) -> str:
    removed = ", ".join(f"{k} {v}" for k, v in manifest["removed"].items() if v) or "nothing"
    rows = manifest["rows"]
    return (
        f"{manifest['kind']}: {rows['train']} train / {rows['valid']} valid rows "
        f"({manifest['theorems']['train']} / {manifest['theorems']['valid']} theorems), "
        f"prompt format {manifest['prompt_format']}; removed: {removed}; held-out check: "
        f"{manifest['holdout']['check']['leaks']} leaks in {manifest['holdout']['check']['rows_checked']} rows"
    )

