"""``prover doctor``: one screen of what is found and what is missing, with the command that fixes each.

    prover doctor [--lean-project DIR] [--config FILE] [--json]

Checks Python and its packages, elan / lake / the toolchain pinned by the Lean project, Mathlib's build,
the REPL binary, strict mode's checker (comparator, lean4export, landrun), CUDA, vLLM and Ray. Exit status:
0 when proving can work (every required item is present), 1 otherwise; optional items (GPU, vLLM, Ray,
LeanDojo, and the strict checker unless lean.verify = strict) only warn.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

from prover.lean.project import SetupCheck, diagnose
from prover.lean.strict import strict_checks

# (import name, distribution name, required, why)
PYTHON_PACKAGES: list[tuple[str, str, bool, str]] = [
    ("pydantic", "pydantic", True, "config"),
    ("yaml", "pyyaml", True, "config"),
    ("rich", "rich", True, "output"),
    ("psutil", "psutil", True, "REPL memory limits"),
    ("networkx", "networkx", True, "search graph"),
    ("torch", "torch", True, "models"),
    ("transformers", "transformers", True, "models"),
    ("bm25s", "bm25s", False, "BM25 premise retrieval"),
    ("faiss", "faiss-cpu", False, "dense premise retrieval"),
    ("lean_dojo", "lean-dojo", False, "LeanDojo backend"),
]
INSTALL = "pip install -e ."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="show what is installed and what is missing (Lean, Mathlib, REPL, GPU, ...)",
        description="Check the installation; exit 0 when proving can work, 1 otherwise.",
    )
    p.add_argument("--lean-project", type=Path, metavar="DIR", help="Lean project (default: lean.project_dir)")
    p.add_argument("--config", type=Path, metavar="FILE", help="config file (.toml, .yaml)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def python_checks() -> list[SetupCheck]:
    v = sys.version_info
    ok = v >= (3, 11)
    checks = [
        SetupCheck(
            "Python", ok, f"{v.major}.{v.minor}.{v.micro} ({sys.executable})", None if ok else "use Python >= 3.11"
        )
    ]
    for mod, dist, required, why in PYTHON_PACKAGES:
        if importlib.util.find_spec(mod) is None:
            checks.append(SetupCheck(f"{dist} ({why})", False, "not installed", f"pip install {dist}", required))
        else:
            checks.append(SetupCheck(f"{dist} ({why})", True, _version(dist), None, required))
    return checks


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def gpu_checks() -> list[SetupCheck]:
    checks: list[SetupCheck] = []
    if importlib.util.find_spec("torch") is None:
        checks.append(SetupCheck("CUDA GPU", False, "torch is not installed", INSTALL, required=False))
    else:
        try:
            import torch

            if torch.cuda.is_available():
                names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                checks.append(
                    SetupCheck("CUDA GPU", True, f"{len(names)} × {names[0]} (CUDA {torch.version.cuda})", None, False)
                )
            else:
                why = "torch has no CUDA" if torch.version.cuda is None else "no GPU visible"
                checks.append(
                    SetupCheck(
                        "CUDA GPU",
                        False,
                        f"{why} (torch {torch.__version__}); models run on CPU",
                        "install a CUDA build of torch on a GPU machine (https://pytorch.org/get-started/locally/)",
                        required=False,
                    )
                )
        except Exception as e:  # a broken torch install must not break doctor
            checks.append(SetupCheck("CUDA GPU", False, f"torch fails to import: {e}", INSTALL, required=False))
    for mod, dist, fix in (
        ("vllm", "vllm", "pip install -e '.[vllm]' (needs a CUDA GPU)"),
        ("ray", "ray", "pip install 'ray[default]'"),
    ):
        if importlib.util.find_spec(mod) is None:
            checks.append(SetupCheck(dist, False, "not installed (optional)", fix, required=False))
        else:
            checks.append(SetupCheck(dist, True, _version(dist), None, required=False))
    return checks


def all_checks(config) -> list[tuple[str, list[SetupCheck]]]:
    return [
        ("Python environment", python_checks()),
        ("Lean", diagnose(config.lean)),
        ("Strict mode (required when lean.verify = strict)", strict_checks(config.lean)),
        ("Accelerators and engines", gpu_checks()),
    ]


def run(args: argparse.Namespace) -> int:
    from prover.config import load_config

    overrides = {"lean.project_dir": str(args.lean_project)} if args.lean_project else None
    config = load_config(args.config, overrides)
    groups = all_checks(config)
    missing = [c for _, cs in groups for c in cs if not c.ok and c.required]
    if args.json:
        out = {g: [asdict(c) for c in cs] for g, cs in groups}
        out["ready"] = not missing  # type: ignore[assignment]
        print(json.dumps(out, indent=1))
        return 1 if missing else 0
    _print_table(groups, missing)
    return 1 if missing else 0


def _print_table(groups: list[tuple[str, list[SetupCheck]]], missing: list[SetupCheck]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title="prover doctor", expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("component", no_wrap=True)
    table.add_column("found", overflow="fold")
    for group, checks in groups:
        table.add_section()
        table.add_row("", f"[bold]{escape(group)}[/bold]", "")
        for c in checks:
            mark = "[green]ok[/green]" if c.ok else ("[red]MISSING[/red]" if c.required else "[yellow]--[/yellow]")
            table.add_row(mark, escape(c.name), escape(c.found))
    console.print(table)
    fixes = {c.fix for c in missing}
    optional = [c for _, cs in groups for c in cs if not c.ok and not c.required and c.fix and c.fix not in fixes]
    if missing:
        console.print(f"[red]Proving cannot work yet: {len(missing)} required item(s) missing.[/red] To fix, run:")
        for fix, names in _by_fix(missing):
            console.print(f"  {escape(fix)}    [dim]# {escape(', '.join(names))}[/dim]", soft_wrap=True)
    else:
        console.print("[green]Ready to prove.[/green]")
    if optional:
        console.print("Optional:")
        for fix, names in _by_fix(optional):
            console.print(f"  {escape(fix)}    [dim]# {escape(', '.join(names))}[/dim]", soft_wrap=True)


def _by_fix(checks: list[SetupCheck]) -> list[tuple[str, list[str]]]:
    """Checks grouped by the command that fixes them, in order of first appearance."""
    out: dict[str, list[str]] = {}
    for c in checks:
        out.setdefault(c.fix or c.found, []).append(c.name)
    return list(out.items())
