"""``prover repair``: repair a failing proof of a user's file with Lean's help.

    prover repair Proof.lean --theorem my_lemma [--mode repair|hybrid] [--no-model] [-o Fixed.lean] [--json]

The declaration's own proof goes through the repair loop (`repair.loop`): the soundness gate, the syntax
refiner, sorrify rounds on Lean's errors, automation on each ``sorry``, then (unless ``--no-model``) the
whole-proof model on the sub-lemmas left, and in ``--mode hybrid`` the step prover's search first. Prints the
repaired declaration (it passed the gate) or what is left: the text with its remaining ``sorry``s and each
open goal as Lean states it (with a stand-alone lemma statement when one could be made).
Exit status: 0 repaired, 1 goals left, 2 error (bad input, Lean setup).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from prover.cli.common import add_options, config_overrides
from prover.errors import UserError

if TYPE_CHECKING:
    from prover.models.base import ProofGenerator, TacticGenerator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repair",
        help="repair a failing proof in a .lean file",
        description="Repair the proof of one theorem of a .lean file (refiner, sorrify, automation, sub-lemmas). "
        "Exit 0 repaired, 1 goals left, 2 error.",
    )
    p.add_argument("file", type=Path, metavar="FILE.lean", help="the Lean file")
    p.add_argument("--theorem", required=True, metavar="NAME", help="the theorem / lemma whose proof to repair")
    p.add_argument("--mode", choices=["repair", "hybrid"], default="repair", help="hybrid: sub-goals go to the step "
                   "prover's search first (default repair)")
    p.add_argument("--no-model", action="store_true", help="no whole-proof model for sub-lemmas (refiner, sorrify and "
                   "automation only; no GPU needed)")
    add_options(p, "--config", "--set", "--lean-project")
    p.add_argument("-o", "--output", type=Path, metavar="F.lean", help="write the file with the repaired proof here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _declaration_text(path: Path, name: str) -> tuple[str, int, int]:
    """The declaration of ``name`` in ``path`` (from its first token to its end) and its span."""
    from prover.lean.syntax import scan

    text = path.read_text(encoding="utf-8")
    for d in scan(text).declarations:
        if d.name is not None and name in (d.name, d.full_name, d.name.split(".")[-1]):
            return text[d.outer_start : d.end], d.outer_start, d.end
    raise UserError(f"theorem {name!r} not found in {path}")


def run(args: argparse.Namespace) -> int:
    from prover.config import load_config
    from prover.lean.gate import SoundnessGate
    from prover.lean.repl_env import ReplEnv
    from prover.lean.types import LeanInputError
    from prover.theorems import load_file_theorem
    from repair.loop import Budget, RepairLoop

    config = load_config(args.config, config_overrides(args, {}))
    theorem = load_file_theorem(args.file, args.theorem)  # one-line errors for a missing file / theorem
    proof, start, end = _declaration_text(args.file, args.theorem)
    if args.output is not None and (args.output.is_dir() or not args.output.parent.is_dir()):
        raise UserError(f"-o {args.output}: not a writable file path")
    t0 = time.monotonic()
    owned: list[TacticGenerator | ProofGenerator] = []
    with ReplEnv(config.lean) as env:
        try:
            env.start(theorem)
        except LeanInputError as e:
            raise UserError(f"{args.file}: Lean rejects the statement of {args.theorem}: {e}") from e
        generator = None
        if not args.no_model and config.repair.sublemma_samples > 0:
            from prover.models import build_proof_generator

            generator = build_proof_generator(config.whole)
            owned.append(generator)
        subgoals = None
        if args.mode == "hybrid":
            from prover import models
            from repair.modes import SearchSubgoalProver

            tactic_gen = models.build_generator(config.generator)
            owned.append(tactic_gen)
            subgoals = SearchSubgoalProver(
                config.search,
                tactic_gen,
                config.repair,
                num_tactics=config.generator.num_samples,
                tactic_timeout=config.search.tactic_timeout or config.lean.timeout,
            )
        try:
            budget = Budget(env, config.repair.max_lean_calls, config.repair.time_limit)
            loop = RepairLoop(
                env,
                config.repair,
                budget,
                proof_generator=generator,
                subgoal_prover=subgoals,
                screen=SoundnessGate.from_config(config.lean).screen,
            )
            res = loop.repair(theorem, proof)
        finally:
            for o in owned:
                o.close()
    elapsed = time.monotonic() - t0
    if args.output is not None:
        whole = args.file.read_text(encoding="utf-8")
        try:
            args.output.write_text(whole[:start] + res.text.rstrip("\n") + whole[end:])
        except OSError as e:
            raise UserError(f"cannot write {args.output}: {e.strerror}") from e
    if args.json:
        print(
            json.dumps(
                {
                    "theorem": args.theorem,
                    "repaired": res.proved,
                    "stage": res.stage,
                    "text": res.text,
                    "remaining": [
                        {"goal": g.goal, "line": g.line, "column": g.column, "lemma": g.lemma} for g in res.remaining
                    ],
                    "reason": res.reason,
                    "rounds": res.rounds,
                    "closed": dict(res.closed),
                    "lean_calls": budget.lean_calls,
                    "samples": budget.samples,
                    "time": round(elapsed, 3),
                },
                ensure_ascii=False,
            )
        )
        return 0 if res.proved else 1
    print(res.text.rstrip("\n"))
    counts = f"{budget.lean_calls} Lean calls, {budget.samples} samples, {elapsed:.1f}s"
    if res.proved:
        print(f"repaired {args.theorem} ({res.stage}): {counts}")
        return 0
    if res.remaining:
        print(f"\n{len(res.remaining)} goal(s) left, as Lean states them (line:column of their sorry):")
        for g in res.remaining:
            print(f"\n-- {g.line}:{g.column}\n{g.goal}")
            if g.lemma:
                print(f"-- as a lemma:\n{g.lemma} sorry")
    print(f"not repaired {args.theorem} ({res.reason or 'no proof'}): {counts}")
    return 1
