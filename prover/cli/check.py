"""``prover check``: run a Lean file through the REPL with the soundness gate.

    prover check FILE.lean [--theorem NAME] [--strict] [--lean-project DIR] [--config FILE] [--timeout SECONDS]

The file (its ``import`` lines are the header) must elaborate with no error and no ``sorry``, declare no
``axiom``, and the theorems it declares (or only ``--theorem NAME``) may use only the allowed axioms
(``lean.allowed_axioms``; default ``propext``, ``Classical.choice``, ``Quot.sound``). Lean's messages are
printed as ``FILE:line:col: severity: text``. ``--strict``: then the independent checker (comparator) must
agree (``prover.lean.strict``). Exit status: 0 sound, 1 not sound (or Lean timed out), 2 bad input (missing
file, unknown theorem, Lean or the strict checker not set up).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from prover.cli.common import add_options, load_config_from_args
from prover.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="check a Lean file with the soundness gate (errors, sorry, axioms)",
        description="Check FILE.lean through the Lean REPL with the soundness gate. "
        "Exit 0 sound, 1 not sound, 2 bad input.",
    )
    p.add_argument("file", type=Path, metavar="FILE.lean", help="the Lean file to check")
    p.add_argument("--theorem", metavar="NAME", help="audit only this theorem's axioms (default: every theorem)")
    add_options(p, "--lean-project", "--config", "--set")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="Lean time limit per command (lean.timeout)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="after the REPL gate, check with the independent checker (lean.verify = strict; see README)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors and the verdict only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prover.lean.repl_env import ReplEnv
    from prover.lean.syntax import scan
    from prover.lean.types import LeanTimeout

    path: Path = args.file
    if not path.exists():
        raise UserError(f"file not found: {path}")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if path.suffix != ".lean":
        raise UserError(f"{path}: expected a .lean file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it ({e})") from e

    if args.timeout is not None and args.timeout <= 0:
        raise UserError("--timeout must be positive")
    strict = "strict" if args.strict else None
    config = load_config_from_args(args, {"lean.timeout": args.timeout, "lean.verify": strict})

    names = None
    if args.theorem:
        decls = scan(text).declarations
        known = {d.full_name for d in decls if d.full_name} | {d.name for d in decls if d.name}
        if args.theorem not in known:
            theorems = sorted(d.full_name for d in decls if d.is_theorem and d.full_name)
            hint = f" (it declares: {', '.join(theorems[:10])})" if theorems else " (it declares no theorem)"
            raise UserError(f"{path}: no declaration named {args.theorem}{hint}")
        names = [args.theorem]

    shown = str(path)
    try:
        with ReplEnv(config.lean) as env:
            result = env.check_file(text, names)
            if result.lean_version is None:
                result = replace(result, lean_version=env.lean_version)
    except LeanTimeout as e:
        print(f"{shown}: not checked: Lean timed out ({e})", file=sys.stderr)
        if args.json:
            print(json.dumps({"file": shown, "sound": False, "reasons": [f"timeout: {e}"]}))
        return 1

    if args.json:
        print(
            json.dumps(
                {
                    "file": shown,
                    "sound": result.sound,
                    "reasons": list(result.reasons),
                    "axioms": list(result.axioms),
                    "messages": [m.format(shown) for m in result.messages],
                    "lean_version": result.lean_version,
                    "verified_by": result.verified_by,
                },
                ensure_ascii=False,
            )
        )
        return 0 if result.sound else 1

    for m in result.messages:
        if args.quiet and not m.is_error:
            continue
        print(m.format(shown))
    version = f" [Lean {result.lean_version}]" if result.lean_version else ""
    if result.sound:
        axioms = ", ".join(result.axioms) if result.axioms else "none"
        mode = ", strict: comparator agrees" if result.verified_by == "strict" else ""
        print(f"{shown}: OK, sound (axioms: {axioms}{mode}){version}")
        return 0
    print(f"{shown}: NOT SOUND{version}")
    for r in result.reasons:
        print(f"  - {r}")
    return 1
