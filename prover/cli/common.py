"""Configuration options shared by ``prover prove``, ``prover batch`` and ``prover check``, and loading the
config from them: ``--config FILE``, then ``--set SECTION.KEY=VALUE`` items, then direct flags (later wins).

Not a subcommand (it is not in ``SUBCOMMANDS``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from prover.errors import UserError

if TYPE_CHECKING:
    from prover.config import Overrides

# flag -> (argparse keywords, the config key it sets or None). The same flag means the same in every command.
_OPTIONS: dict[str, tuple[dict[str, Any], str | None]] = {
    "--config": ({"type": Path, "metavar": "FILE", "help": "config file (.toml, .yaml)"}, None),
    "--set": (
        {
            "action": "append",
            "default": [],
            "metavar": "SECTION.KEY=VALUE",
            "help": "override a config value (repeatable)",
        },
        None,
    ),
    "--preset": (
        {
            "choices": ["cpu", "gpu", "internlm", "internlm-math-plus"],
            "help": "generator preset (generator.preset), each as its authors evaluate it: cpu = ReProver ByT5 on "
            "transformers, gpu = BFS-Prover-V2-7B on vLLM, internlm = InternLM2.5-StepProver on vLLM, "
            "internlm-math-plus = InternLM2-Math-Plus-7B on vLLM",
        },
        "generator.preset",
    ),
    "--backend": (
        {"help": "generator backend (generator.backend: hf | vllm | openai | automation)"},
        "generator.backend",
    ),
    "--model": ({"help": "generator model name or path (generator.model)"}, "generator.model"),
    "--mode": (
        {
            "choices": ["step", "whole", "repair", "hybrid", "sketch"],
            "help": "proving mode (mode): step = tactic search (default), whole = sampled whole proofs, repair = "
            "whole + the repair loop on failures, hybrid = repair whose sub-goals go to the step prover first, "
            "sketch = draft, sketch and prove (DSP+): a reasoning model plans, automation and the step prover "
            "fill in",
        },
        "mode",
    ),
    "--algorithm": (
        {"choices": ["best_first", "mps"], "help": "search algorithm (search.algorithm)"},
        "search.algorithm",
    ),
    "--max-expansions": ({"type": int, "metavar": "N", "help": "search.max_expansions"}, "search.max_expansions"),
    "--time-limit": (
        {"type": float, "metavar": "SECONDS", "help": "wall time per attempt (search.time_limit)"},
        "search.time_limit",
    ),
    "--benchmark-dir": (
        {"type": Path, "metavar": "DIR", "help": "where benchmark JSONL files are"},
        "batch.benchmark_dir",
    ),
    "--lean-project": (
        {"type": Path, "metavar": "DIR", "help": "Lean project (default: lean.project_dir)"},
        "lean.project_dir",
    ),
}


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *flags: str) -> None:
    """Add the shared ``flags`` (e.g. ``"--config", "--set"``) to ``parser``, in that order."""
    for flag in flags:
        parser.add_argument(flag, **_OPTIONS[flag][0])


def parse_set_items(items: list[str]) -> Overrides:
    """``--set SECTION.KEY=VALUE`` items (values parsed as YAML: ``null`` or an empty value = None, which sets
    the key to None, e.g. lifts ``search.time_limit``), each remembering the item that set it."""
    from prover.config import Overrides

    ov = Overrides()
    for item in items:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            ov[k.strip()] = yaml.safe_load(v) if v.strip() else None
        except yaml.YAMLError as e:
            raise UserError(f"--set {item!r}: bad value ({str(e).splitlines()[0]})") from e
        ov.sources[k.strip()] = f"--set {item}"
    return ov


def config_overrides(args: argparse.Namespace, extra: Mapping[str, Any] | None = None) -> Overrides:
    """Overrides for `load_config`: the ``--set`` items, then the shared flags the command has, then
    ``extra`` (the command's own flags, config key -> value). A flag that was not given (None) is left out;
    each override remembers the flag or item that set it, for error messages."""
    ov = parse_set_items(getattr(args, "set", None) or [])
    for flag, (_, key) in _OPTIONS.items():
        dest = flag.lstrip("-").replace("-", "_")
        value = getattr(args, dest, None)
        if key is not None and value is not None:
            ov[key] = str(value) if isinstance(value, Path) else value
            ov.sources[key] = flag
    for key, value in (extra or {}).items():
        if value is not None:
            ov[key] = str(value) if isinstance(value, Path) else value
            ov.sources[key] = _flag_of(args, key, value)
    return ov


def _flag_of(args: argparse.Namespace, key: str, value: Any) -> str:
    """The command's own flag that gave ``key`` its value (``batch.workers`` ← ``--workers``), by name."""
    dest = key.rsplit(".", 1)[-1]
    given = getattr(args, dest, None)
    if given is None:
        return f"the command line ({key})"
    # a flag whose text became another value (``--kinds rw,foo`` → a list) is quoted as typed
    return "--" + dest.replace("_", "-") + ("" if given == value else f" {given}")


def load_config_from_args(args: argparse.Namespace, extra: Mapping[str, Any] | None = None) -> Any:
    """The `prover.config` config of ``--config`` with `config_overrides` applied."""
    from prover.config import load_config

    return load_config(args.config, config_overrides(args, extra))
