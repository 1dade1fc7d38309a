"""Repair on the protocol double: Lean calls and wall time per repaired proof, with automation run in tactic
mode on each sorry's REPL proof state (what `repair.loop` does) vs recompiling the whole file for each
portfolio entry (the file-level way: put the tactic where the sorries are and compile the text again).

    python benchmarks/bench_repair_double.py [--proofs 10] [--lines 30] [--tactic-ms 20] [--sorries 3]

The double charges ``--tactic-ms`` of sleep for every tactic it elaborates, in a command (each line of a
recompiled proof) or in tactic mode (one tactic), which is the shape of Lean's cost: a recompile elaborates
every line again. Each scripted proof has ``--lines`` good tactics and ``--sorries`` failing ones that the
second portfolio entry closes. Nothing here is Lean: the figures compare the two strategies' call patterns
under that cost model, not Lean's speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.config import load_config  # noqa: E402
from prover.lean.repl_env import ReplEnv  # noqa: E402
from prover.lean.types import Theorem  # noqa: E402
from repair import reassemble as RA  # noqa: E402
from repair.config import RepairConfig  # noqa: E402
from repair.loop import Budget, RepairLoop  # noqa: E402
from repair.messages import errors  # noqa: E402
from repair.sorrify import sorrify_step  # noqa: E402

DOUBLE = REPO / "tests" / "double" / "repl_double.py"
PORTFOLIO = ["hint", "closer"]


def build(n_proofs: int, lines: int, sorries: int, tactic_s: float) -> tuple[dict, list[tuple[Theorem, str]]]:
    """A script and the broken proofs: goal chain g0 → g1 → … ; at ``sorries`` places a failing tactic
    (``bad``) whose goal the portfolio's ``closer`` proves."""
    theorems, tactics, proofs = {}, {}, []
    for p in range(n_proofs):
        name = f"t{p}"
        goals = [f"p{p}_{k} : Prop\n⊢ p{p}_{k}" for k in range(lines + 1)]
        theorems[name] = {"goals": [goals[0]]}
        bad_at = {round((k + 1) * lines / (sorries + 1)) for k in range(sorries)}
        body = []
        for k in range(lines):
            g = goals[k]
            tac = f"step{k}"
            if k in bad_at:
                # `have` opens a side goal (the failing part) then the chain goes on
                side = f"s{p}_{k} : Prop\n⊢ s{p}_{k}"
                tactics[g] = {f"have h{k} : S{k} := by": {"goals": [side, goals[k + 1]], "sleep": tactic_s}}
                tactics[side] = {
                    "bad": {"error": "linarith failed", "sleep": tactic_s},
                    "closer": {"goals": [], "sleep": tactic_s},
                    "hint": {"error": "hint failed", "sleep": tactic_s},
                }
                tactics[f"{side}\n\n{goals[k + 1]}"] = {
                    "bad": {"error": "linarith failed", "sleep": tactic_s},
                    "closer": {"goals": [goals[k + 1]], "sleep": tactic_s},
                    "hint": {"error": "hint failed", "sleep": tactic_s},
                    "sorry": {"goals": [goals[k + 1]]},
                }
                body += [f"have h{k} : S{k} := by", "  bad"]
                continue
            tactics[g] = {tac: {"goals": [goals[k + 1]] if k + 1 < lines else [], "sleep": tactic_s}}
            body.append(tac)
        stmt = f"theorem {name} : P{p} := by"
        proofs.append((Theorem(name, stmt), stmt + "\n" + "\n".join("  " + b for b in body) + "\n"))
    return {"lean_version": "4.24.0-double", "theorems": theorems, "tactics": tactics}, proofs


def recompile_strategy(env: ReplEnv, thm: Theorem, text: str) -> bool:
    """Sorrify with whole-file compiles, then for each portfolio entry: every open sorry replaced by it and the
    whole file compiled again; a sorry is closed when no error points at it."""
    chk = env.check(thm, text)
    msgs = chk.messages
    while errors(msgs):
        st = sorrify_step(text, msgs, target=thm.name)
        if not st.changed:
            return False
        text = st.text
        msgs = env.elaborate(thm, text).messages
    for entry in PORTFOLIO:
        offs = RA.sorry_offsets(text)
        if not offs:
            break
        trial = RA.splice(text, [RA.Fill(o, entry) for o in offs])
        el = env.elaborate(thm, trial)
        if not errors(el.messages):
            text = trial
            break
    return env.check(thm, text).sound


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proofs", type=int, default=10)
    ap.add_argument("--lines", type=int, default=30)
    ap.add_argument("--sorries", type=int, default=3)
    ap.add_argument("--tactic-ms", type=float, default=20.0)
    args = ap.parse_args()
    scr, proofs = build(args.proofs, args.lines, args.sorries, args.tactic_ms / 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.json"
        path.write_text(json.dumps(scr))
        cfg = load_config(
            overrides={
                "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(path), "--no-banner"],
                "lean.project_dir": tmp,
                "lean.timeout": 120,
                "lean.memory_limit_mb": None,
            }
        )
        results: dict[str, list[tuple[bool, int, float]]] = {"tactic mode (repair.loop)": [], "recompile": []}
        for thm, text in proofs:
            with ReplEnv(cfg.lean) as env:
                env.start(thm)
                c0, t0 = env.lean_calls, time.perf_counter()
                res = RepairLoop(env, RepairConfig(automation=PORTFOLIO, refine=False), Budget(env)).repair(thm, text)
                results["tactic mode (repair.loop)"].append((res.proved, env.lean_calls - c0, time.perf_counter() - t0))
            with ReplEnv(cfg.lean) as env:
                env.start(thm)
                c0, t0 = env.lean_calls, time.perf_counter()
                ok = recompile_strategy(env, thm, text)
                results["recompile"].append((ok, env.lean_calls - c0, time.perf_counter() - t0))
    print(f"{args.proofs} proofs × {args.lines} tactics, {args.sorries} failing parts each, {args.tactic_ms:g} ms per "
          "elaborated tactic (protocol double)")
    base = None
    for name, rows in results.items():
        proved = sum(r[0] for r in rows)
        calls = statistics.mean(r[1] for r in rows)
        wall = statistics.mean(r[2] for r in rows)
        if base is None:
            base = (calls, wall)
        print(f"  {name:28s} repaired {proved}/{len(rows)}  Lean calls/proof {calls:6.1f}  wall/proof {wall:6.2f}s")
    tm, rc = results["tactic mode (repair.loop)"], results["recompile"]
    calls = statistics.mean(r[1] for r in rc) / statistics.mean(r[1] for r in tm)
    wall = statistics.mean(r[2] for r in rc) / statistics.mean(r[2] for r in tm)
    print(f"  ratio recompile / tactic mode: Lean calls {calls:.2f}×, wall {wall:.2f}×")


if __name__ == "__main__":
    main()
