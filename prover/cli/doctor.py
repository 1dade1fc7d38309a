"""``prover doctor``: one screen of what is found and what is missing, with the command that fixes each.

    prover doctor [--lean-project DIR] [--config FILE] [--set K=V] [--preset P] [--backend B] [--model M] [--json]

Checks Python and its packages; the Lean side as the config runs it (elan / lake / the toolchain pinned by the
project, Mathlib's build, the REPL binary — or, with ``lean.repl_command``, that command, and which Lean it
runs); strict mode's checker (comparator, lean4export, landrun); the generator's model (a local folder, the
Hugging Face cache, or one quick question to the hub, never a download or retries; an OpenAI-compatible server
answers); the premise index when retrieval is on; the benchmark files; CUDA, vLLM and Ray. Exit status: 0 when
proving can work (every required item is present), 1 otherwise; optional items (GPU, vLLM, Ray, LeanDojo,
benchmark files, and the strict checker unless lean.verify = strict) only warn.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prover.cli.common import add_options, load_config_from_args
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
    add_options(p, "--lean-project", "--config", "--set", "--preset", "--backend", "--model", "--benchmark-dir")
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


def lean_checks(lean: Any) -> list[SetupCheck]:
    """The default set-up (`diagnose`), or the REPL command the config names instead."""
    if not lean.repl_command:
        return diagnose(lean)
    from prover.lean.project import repl_lean_version, resolve_repl_command

    cmd, cwd = resolve_repl_command(lean)
    exe = shutil.which(cmd[0]) or (cmd[0] if Path(cmd[0]).is_file() else None)
    checks = [
        SetupCheck(
            "REPL command (lean.repl_command)",
            exe is not None,
            " ".join(cmd) + ("" if exe else f": {cmd[0]} not found"),
            None if exe else "fix lean.repl_command, or unset it to use the project's REPL (scripts/setup_lean.sh)",
        )
    ]
    if exe is not None:
        known = repl_lean_version(cmd, cwd)
        found = f"{known.version} ({known.source})" if known.version else known.source
        checks.append(SetupCheck("Lean version", known.version is not None, found, None, required=False))
    return checks


def model_checks(config: Any) -> list[SetupCheck]:
    """Can the generator's model be loaded, without downloading it or waiting on the hub's retries?"""
    g = config.generator
    backend = g.model_backend
    name = f"generator model ({g.backend})"
    if backend is None:
        return [SetupCheck(name, True, "the automation portfolio (no model)")]
    if backend == "openai":
        return [_endpoint_check(name, g.endpoint)]
    return [_hf_model_check(name, g.model)]


def _hf_model_check(name: str, model: str) -> SetupCheck:
    from prover.models.loading import hub_offline

    local = Path(model).expanduser()
    if local.exists():
        ok = (local / "config.json").is_file()
        return SetupCheck(
            name,
            ok,
            f"{local}" + ("" if ok else ": not a model folder (no config.json)"),
            None if ok else "point generator.model at a saved model folder or a hub id",
        )
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - e.g. not a valid repo id
        return SetupCheck(
            name,
            False,
            f"{model}: no such folder, and not a Hugging Face model id",
            "set generator.model to a model folder or a hub id (org/name)",
        )
    if isinstance(cached, str):
        return SetupCheck(name, True, f"{model} (in the local Hugging Face cache)")
    download = f"hf download {model} (where there is network; then copy ~/.cache/huggingface)"
    if hub_offline():
        return SetupCheck(name, False, f"{model} is not in the local cache and HF_HUB_OFFLINE is set", download)
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    token = os.environ.get("HF_TOKEN")
    try:  # one question, a short timeout, no retries: the loader itself would retry for half a minute
        r = httpx.head(
            f"{endpoint}/api/models/{model}",
            timeout=5.0,
            follow_redirects=True,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
    except httpx.HTTPError as e:
        return SetupCheck(
            name,
            False,
            f"{model} is not in the local cache and {endpoint} cannot be reached ({type(e).__name__})",
            f"check the network, or {download}",
        )
    if r.status_code == 200:
        return SetupCheck(name, True, f"{model} (not downloaded yet: the first run downloads it from {endpoint})")
    if r.status_code in (401, 403):
        return SetupCheck(
            name,
            False,
            f"{model} is gated or private on {endpoint}",
            "accept its license on the hub and log in: hf auth login (or set HF_TOKEN)",
        )
    return SetupCheck(
        name, False, f"{model}: the hub has no such model (HTTP {r.status_code})", "check generator.model (org/name)"
    )


def _endpoint_check(name: str, endpoint: str) -> SetupCheck:
    import httpx

    url = endpoint.rstrip("/") + "/models"
    try:
        r = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as e:
        return SetupCheck(
            name,
            False,
            f"no answer from {url} ({type(e).__name__})",
            "start the server (e.g. vllm serve MODEL --port 8000) or set generator.endpoint",
        )
    ok = r.status_code < 400
    return SetupCheck(
        name,
        ok,
        f"{url} answers HTTP {r.status_code}",
        None if ok else "check generator.endpoint and the API key (generator.api_key_env)",
    )


def retrieval_checks(config: Any) -> list[SetupCheck]:
    r = config.retrieval
    name = "premise index (retrieval)"
    if not r.enabled or r.k <= 0:
        return [SetupCheck(name, True, "off (retrieval.enabled = false)", required=False)]
    from retrieval.corpus import CORPUS_JSON

    build = "prover index build --source PATH --out DIR, then set retrieval.index_dir = DIR"
    index = Path(r.index_dir) if r.index_dir is not None else None
    if index is not None and (index / CORPUS_JSON).is_file():
        if r.method == "dense" and not (index / "dense" / "index.faiss").is_file():
            return [
                SetupCheck(
                    name,
                    False,
                    f"{index} has no dense index (retrieval.method = dense)",
                    f"prover index build ... --out {index} with a dense encoder, or method = bm25",
                )
            ]
        return [SetupCheck(name, True, f"{index}")]
    if r.sources:
        return [SetupCheck(name, True, f"built from {len(r.sources)} source(s) on first use", required=False)]
    where = f"{index} holds no corpus" if index is not None else "retrieval.index_dir is not set"
    return [SetupCheck(name, False, where, build)]


def benchmark_checks(config: Any) -> list[SetupCheck]:
    from data.benchmarks import BENCHMARKS, REGISTRY, benchmark_file

    d = Path(config.batch.benchmark_dir)
    out = []
    for bench, splits in BENCHMARKS.items():
        have = [s for s in splits if benchmark_file(bench, s, d).is_file()]
        download = REGISTRY[bench].download
        fix = f"prover data download {download}" if download else None
        found = f"{', '.join(have)} in {d}" if have else f"not in {d}"
        out.append(SetupCheck(f"benchmark {bench}", len(have) == len(splits), found, fix, required=False))
    return out


def all_checks(config) -> list[tuple[str, list[SetupCheck]]]:
    return [
        ("Python environment", python_checks()),
        ("Lean", lean_checks(config.lean)),
        ("Strict mode (required when lean.verify = strict)", strict_checks(config.lean)),
        (
            "Models, premises and benchmarks",
            [*model_checks(config), *retrieval_checks(config), *benchmark_checks(config)],
        ),
        ("Accelerators and engines", gpu_checks()),
    ]


def run(args: argparse.Namespace) -> int:
    config = load_config_from_args(args)
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
