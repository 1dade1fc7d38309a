#!/usr/bin/env python3
"""A stand-in for the Lean FRO's comparator binary (test tool only; see SCRIPT.md, "Comparator double").

Run as comparator is: ``lake env comparator CONFIG.json`` in the Lean project. It checks what the real one
needs before it starts (the config's fields, the challenge and solution module files in the project,
``lean4export`` and ``landrun`` on PATH), then prints comparator's progress lines and ends as the case in
``$COMPARATOR_DOUBLE_CASE`` says. Every line it prints is comparator's own wording (branch pre-v25,
commit 97ef939): ``Main.lean``'s ``IO.println``s, the ``throw``s of ``Comparator/Compare.lean`` and
``Comparator/Axioms.lean``, ``Child exited with N`` of ``runSandBoxed``, and Lean's ``uncaught exception:``
prefix for an error that escapes ``main`` (exit status 1).

Cases: ``ok`` (default), ``axiom:NAME``, ``statement:NAME``, ``kind:NAME``, ``kernel:MESSAGE``,
``solution-build`` (the solution does not build), ``challenge-build``, ``sleep:SECONDS``.
It never checks anything: it proves nothing and is never a default.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path


def fail(message: str) -> None:
    print(f"uncaught exception: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    if len(sys.argv) < 2:
        fail("Expected config file path as first argument.")
    cfg = json.loads(Path(sys.argv[1]).read_text())
    for key in ("challenge_module", "solution_module", "theorem_names", "permitted_axioms", "enable_nanoda"):
        if key not in cfg:
            fail(f"Failed to decode config: missing field {key}")
    for tool in ("lean4export", "landrun"):
        if shutil.which(tool) is None:
            fail(f"could not execute external process '{tool}'")
    for mod in (cfg["challenge_module"], cfg["solution_module"]):
        if not Path(*mod.split(".")).with_suffix(".lean").is_file():
            fail(f"unknown module {mod}")
    case = os.environ.get("COMPARATOR_DOUBLE_CASE", "ok")
    if case.startswith("sleep:"):
        time.sleep(float(case.split(":", 1)[1]))
    targets = "#[" + ", ".join([*cfg["theorem_names"], *cfg["permitted_axioms"], "Nat.add", "Nat.sub"]) + "]"
    print(f"Building {cfg['challenge_module']}", flush=True)
    if case == "challenge-build":
        fail("Child exited with 1")
    print(f"Exporting {targets} from {cfg['challenge_module']}")
    print(f"Building {cfg['solution_module']}")
    if case == "killed":  # the OOM killer during the solution's build (what a signal looks like to the caller)
        os.kill(os.getpid(), signal.SIGKILL)
    if case == "solution-build":
        print("error: ProverStrict/Solution.lean:3:2: unknown identifier 'foo'")
        fail("Child exited with 1")
    print(f"Exporting {targets} from {cfg['solution_module']}")
    what, _, arg = case.partition(":")
    if what == "statement":
        fail(f"Challenge and solution theorem statement do not match: '{arg}'")
    if what == "kind":
        fail(f"Challenge and solution constant kind don't match: '{arg}'")
    if what == "axiom":
        fail(f"Illegal axiom detected: '{arg}'")
    print("Running Lean default kernel on solution.")
    if what == "kernel":
        fail(arg)
    print("Lean default kernel accepts the solution")
    print("Your solution is okay!")


if __name__ == "__main__":
    main()
