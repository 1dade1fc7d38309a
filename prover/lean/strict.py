"""Strict mode: an established, independent checker re-checks a proof after the REPL gate accepted it.

The checker is the Lean FRO's **comparator** (``leanprover/comparator``, branch ``pre-v25``: the last one for
Lean ≤ v4.24, at commit `COMPARATOR_REV`), a Lake dependency of ``lean_project/``. Given a *challenge* module
(the trusted statement, proved by ``sorry``) and a *solution* module (the proof text), it builds both with
``lake`` inside a ``landrun`` sandbox, exports them with ``lean4export``, checks that every declaration the
statement uses is the same in both (so the solution proves the same statement, whatever notation or
elaborator tricks it played), that the theorem's axioms are within the permitted list, and replays the
solution's declarations through the Lean kernel (lean4checker's replay). Why comparator and not the others
(see the notes of issue 8): lean4checker alone replays declarations but compares no statement and checks no
axiom; SafeVerify has no v4.24 release and needs its own Mathlib (a second Mathlib in one Lake workspace);
comparator does all three, was written for adversarial solutions, and is pinned to our toolchain.

It runs only for proofs the REPL gate accepted (so only candidate proofs pay for two module builds), one at a
time per Lean project (a file lock), and needs three programs: the comparator binary (built by
``scripts/setup_lean.sh``), ``lean4export`` (built from the same manifest) and ``landrun`` (a Go program;
the setup script builds it when ``go`` is installed). ``prover doctor`` finds and version-checks them.

`parse_comparator_output` turns the checker's exit status and output into a `StrictVerdict`; its wording is
comparator's own (``Main.lean``'s progress lines, the ``throw``s of ``Comparator/Compare.lean`` and
``Comparator/Axioms.lean``, Lean's ``uncaught exception:`` prefix for an escaping error).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prover.lean import syntax
from prover.lean.config import LeanConfig
from prover.lean.project import (
    SETUP_SCRIPT,
    SetupCheck,
    find_lake,
    manifest_packages,
    project_dir,
    read_toolchain,
    toolchain_dir,
    toolchain_version,
)
from prover.lean.types import LeanCrashed, LeanSetupError, LeanTimeout, Theorem

COMPARATOR_PACKAGE = "Comparator"
COMPARATOR_URL = "https://github.com/leanprover/comparator"
COMPARATOR_REV = "97ef939c9fe3f8abf93e4adb654517476da7a66f"  # branch pre-v25: "v4.24.0 and older"
COMPARATOR_BIN = Path(".lake/packages") / COMPARATOR_PACKAGE / ".lake/build/bin/comparator"
LEAN4EXPORT_BIN = Path(".lake/packages/lean4export/.lake/build/bin/lean4export")
LANDRUN_BIN = Path(".lake/prover-tools/bin/landrun")  # where scripts/setup_lean.sh builds it
STRICT_LIB = "ProverStrict"  # the lean_lib (globs ProverStrict.+) the checked modules belong to
EXAMPLE_NAME = "prover_strict_example"
OK_LINE = "Your solution is okay!"


# ---------------------------------------------------------------------------------------------------
# The checker's answer


@dataclass(frozen=True)
class StrictVerdict:
    """What comparator said. ``setup_error``: it could not judge (the challenge did not build, a program is
    missing): never a verdict on the proof."""

    ok: bool
    reason: str | None = None
    stage: str = ""  # the last step it reached: build challenge / export challenge / build solution / ...
    setup_error: bool = False
    crashed: bool = False  # killed by a signal (out of memory, segfault): no verdict, the check is to be redone


_STAGES = (
    (re.compile(r"^Building (.+)$"), "build"),
    (re.compile(r"^Exporting .* from (.+)$"), "export"),
    (re.compile(r"^Running Lean default kernel on solution"), "kernel"),
    (re.compile(r"^Running nanoda kernel on solution"), "kernel"),
)
_SIGNAL_EXITS = (134, 137, 139)  # 128 + SIGABRT / SIGKILL / SIGSEGV, as a shell (`lake env`) reports them
_UNCAUGHT = re.compile(r"uncaught exception:\s*(.*)", re.S)
_EXPLAIN = (
    (re.compile(r"Illegal axiom detected: '(.+?)'"), "uses the axiom {0}, which is not permitted"),
    (re.compile(r"theorem statement do not match: '(.+?)'"), "the statement of {0} differs from the original"),
    (
        re.compile(r"Const does not match between challenge and target '(.+?)'"),
        "{0}, used by the statement, differs from the original",
    ),
    (re.compile(r"constant kind don't match: '(.+?)'"), "{0} is not the same kind of declaration as in the original"),
    (re.compile(r"Solution constant is not a theorem: '(.+?)'"), "{0} is not a theorem in the proof text"),
    (re.compile(r"Const(?:ant)? not found in solution:? '(.+?)'"), "the proof text does not declare {0}"),
    (re.compile(r"^\(kernel\)"), "the Lean kernel rejects it: {m}"),
)


def parse_comparator_output(
    returncode: int, stdout: str, stderr: str, *, challenge: str, solution: str
) -> StrictVerdict:
    """Read comparator's run (``challenge`` / ``solution``: the module names it was given)."""
    stage, module = "start", ""
    for line in stdout.splitlines():
        for rx, what in _STAGES:
            m = rx.match(line.strip())
            if m:
                module = m.group(1) if m.groups() else module
                stage = f"{what} {'challenge' if module == challenge else 'solution'}" if what != "kernel" else what
    if returncode == 0 and OK_LINE in stdout:
        return StrictVerdict(True, None, "done")
    text = stderr.strip() or stdout.strip()
    m = _UNCAUGHT.search(text)
    message = (m.group(1) if m else text.splitlines()[-1] if text else f"exit status {returncode}").strip()
    message = message.splitlines()[0] if message else message
    if returncode < 0 or returncode in _SIGNAL_EXITS:  # the OOM killer, a segfault: says nothing of the proof
        return StrictVerdict(False, f"comparator was killed ({stage}, exit status {returncode}): {message}", stage,
                             crashed=True)  # fmt: skip
    if stage in ("start", "build challenge", "export challenge"):
        # the challenge is the trusted statement and already elaborated in the REPL: a failure here is the
        # checker's setup (sandbox, binaries, project), not the proof's
        why = f"comparator could not check the original statement ({stage}): {message}"
        return StrictVerdict(False, why, stage, True)
    if stage == "build solution":
        return StrictVerdict(False, f"the proof does not build as a module: {message}", stage)
    for rx, text_ in _EXPLAIN:
        mm = rx.search(message)
        if mm:
            return StrictVerdict(False, "strict: " + text_.format(*mm.groups(), m=message), stage)
    return StrictVerdict(False, f"strict: comparator rejects it: {message}", stage)


# ---------------------------------------------------------------------------------------------------
# What is checked: challenge and solution texts


@dataclass(frozen=True)
class StrictJob:
    challenge: str  # the trusted statement(s) by sorry, with their header
    solution: str  # the proof text with the same header
    theorem_names: tuple[str, ...]
    definition_names: tuple[str, ...] = ()  # examples, checked as comparator's "definition holes"


def _rename_examples(
    text: str, src: syntax.Source, examples: Sequence[syntax.Declaration]
) -> tuple[str, list[str]]:
    """Examples → ``noncomputable def prover_strict_example_N`` (an example's type need not be a Prop)."""
    names = [f"{EXAMPLE_NAME}_{i}" for i in range(len(examples))]
    for d, name in sorted(zip(examples, names, strict=True), key=lambda e: -e[0].keyword):
        kw = f"def {name}" if "noncomputable" in d.modifiers else f"noncomputable def {name}"
        text = text[: d.keyword] + kw + text[d.keyword + len("example") :]
    return text, names


def job_for_theorem(theorem: Theorem, proof_text: str, header: str) -> StrictJob:
    """Challenge: ``header`` + the theorem's statement by ``sorry``; solution: ``header`` + the text (its own
    import lines dropped: ``header`` already has what the gate allowed)."""
    _, body, _ = syntax.split_header(proof_text)
    ref = syntax.scan(theorem.statement)
    if not ref.declarations:
        raise ValueError(f"{theorem.name}: the statement is not a declaration")
    d = ref.declarations[0]
    challenge = theorem.sorried()
    name = d.full_name
    if d.kind == "example":
        c_src = syntax.scan(challenge)
        challenge, (name,) = _rename_examples(challenge, c_src, c_src.declarations[:1])
        src = syntax.scan(body)
        want = [e for e in src.declarations if e.kind == "example"][:1]
        body, _ = _rename_examples(body, src, want)
    assert name is not None
    sep = "" if header.endswith("\n") or not header else "\n"
    names = ((), (name,)) if d.kind == "example" else ((name,), ())
    return StrictJob(f"{header}{sep}\n{challenge}\n", f"{header}{sep}\n{body}\n", *names)


def job_for_file(text: str, names: Iterable[str] | None = None) -> StrictJob:
    """A user's file: the challenge is the file with the proofs of its theorems (or of ``names``) replaced by
    ``sorry``; the solution is the file. Examples among them are renamed to theorems in both."""
    src = syntax.scan(text)
    wanted = set(names) if names is not None else None

    def chosen(d: syntax.Declaration) -> bool:
        return (
            (d.is_theorem or d.kind == "example")
            and (wanted is None or d.full_name in wanted or d.name in wanted)
            and d.delimiter == ":="
            and d.delimiter_span is not None
        )

    solution, ex_names = _rename_examples(text, src, [d for d in src.declarations if d.kind == "example" and chosen(d)])
    s_src = syntax.scan(solution)
    targets = [d for d in s_src.declarations if chosen(d) or d.full_name in ex_names]
    challenge = solution
    for d in sorted(targets, key=lambda x: -x.end):
        assert d.delimiter_span is not None
        challenge = challenge[: d.delimiter_span[1]] + " sorry" + challenge[d.end :]
    theorem_names = [d.full_name for d in targets if d.full_name and d.full_name not in ex_names]
    return StrictJob(challenge, solution, tuple(theorem_names), tuple(ex_names))


# ---------------------------------------------------------------------------------------------------
# Running it


def find_comparator(project: Path) -> Path | None:
    p = project / COMPARATOR_BIN
    return p if p.is_file() and os.access(p, os.X_OK) else None


def find_lean4export(project: Path) -> Path | None:
    p = project / LEAN4EXPORT_BIN
    if p.is_file() and os.access(p, os.X_OK):
        return p
    w = shutil.which("lean4export")
    return Path(w) if w else None


def find_landrun(project: Path) -> Path | None:
    p = project / LANDRUN_BIN
    if p.is_file() and os.access(p, os.X_OK):
        return p
    w = shutil.which("landrun")
    return Path(w) if w else None


class ComparatorChecker:
    """Runs comparator on `StrictJob`s in ``config.project_dir`` (module files under ``ProverStrict/``)."""

    def __init__(self, config: LeanConfig, timeout: float | None = None):
        self.config = config
        self.project = project_dir(config)
        self.timeout = timeout if timeout is not None else config.strict_timeout

    def command(self, config_file: Path) -> tuple[list[str], dict[str, str]]:
        """``(argv, env)``: ``lake env comparator CONFIG`` with the toolchain's ``lean``/``lake``, ``lean4export``
        and ``landrun`` first on PATH (comparator looks them up there)."""
        problems = [c for c in strict_checks(self.config, run_versions=False) if not c.ok]
        if problems:
            raise LeanSetupError(f"strict mode: {problems[0].problem}")
        toolchain = read_toolchain(self.project)
        lake = find_lake(toolchain)
        comparator, export, landrun = (
            find_comparator(self.project),
            find_lean4export(self.project),
            find_landrun(self.project),
        )
        assert lake and comparator and export and landrun  # strict_checks found them
        path = [str(export.parent), str(landrun.parent)]
        if toolchain and (toolchain_dir(toolchain) / "bin").is_dir():
            path.append(str(toolchain_dir(toolchain) / "bin"))
        env = dict(os.environ, PATH=os.pathsep.join([*path, os.environ.get("PATH", "")]))
        return [str(lake), "env", str(comparator), str(config_file)], env

    def check(self, job: StrictJob, allowed_axioms: Iterable[str]) -> StrictVerdict:
        key = "J" + hashlib.sha1((job.challenge + "\0" + job.solution).encode()).hexdigest()[:16]
        for n in (*job.theorem_names, *job.definition_names):
            if "«" in n:
                return StrictVerdict(False, f"strict: comparator's config cannot name {n} («» names)", "start")
        lib_dir = self.project / STRICT_LIB / key
        challenge_mod, solution_mod = f"{STRICT_LIB}.{key}.Challenge", f"{STRICT_LIB}.{key}.Solution"
        lock_path = self.project / ".lake" / "prover-strict.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in a Lake workspace
            try:
                lib_dir.mkdir(parents=True, exist_ok=True)
                (lib_dir / "Challenge.lean").write_text(job.challenge, encoding="utf-8")
                (lib_dir / "Solution.lean").write_text(job.solution, encoding="utf-8")
                cfg = lib_dir / "comparator.json"
                cfg.write_text(
                    json.dumps(
                        {
                            "challenge_module": challenge_mod,
                            "solution_module": solution_mod,
                            "theorem_names": list(job.theorem_names),
                            "definition_names": list(job.definition_names),
                            "permitted_axioms": sorted(allowed_axioms),
                            "enable_nanoda": False,
                        }
                    )
                )
                argv, env = self.command(cfg)
                try:
                    out = subprocess.run(
                        argv, cwd=self.project, env=env, capture_output=True, text=True, timeout=self.timeout
                    )
                except subprocess.TimeoutExpired as e:
                    raise LeanTimeout(f"strict mode: comparator did not finish within {self.timeout:g}s") from e
                except OSError as e:
                    raise LeanSetupError(f"strict mode: cannot run comparator ({e})") from e
                verdict = parse_comparator_output(
                    out.returncode, out.stdout, out.stderr, challenge=challenge_mod, solution=solution_mod
                )
            finally:
                self._clean(key)
        if verdict.crashed:
            raise LeanCrashed(f"strict mode: {verdict.reason}")
        if verdict.setup_error:
            raise LeanSetupError(f"strict mode: {verdict.reason}")
        return verdict

    def _clean(self, key: str) -> None:
        for p in (
            self.project / STRICT_LIB / key,
            self.project / ".lake" / "build" / "lib" / "lean" / STRICT_LIB / key,
            self.project / ".lake" / "build" / "ir" / STRICT_LIB / key,
        ):
            with contextlib.suppress(OSError):
                shutil.rmtree(p)


# ---------------------------------------------------------------------------------------------------
# prover doctor


def strict_checks(config: LeanConfig, *, run_versions: bool = True) -> list[SetupCheck]:
    """What strict mode needs; required only when ``lean.verify`` is ``strict``."""
    required = config.verify == "strict"
    project = project_dir(config)
    repo = Path(__file__).resolve().parents[2]
    fix = f"bash {repo / SETUP_SCRIPT}" + ("" if project == repo / "lean_project" else f" {project}")
    checks: list[SetupCheck] = []
    pkg = manifest_packages(project).get(COMPARATOR_PACKAGE)
    if pkg is None:
        checks.append(
            SetupCheck("comparator (strict mode)", False, "not in the project's lake-manifest.json", fix, required)
        )
        return checks
    rev = str(pkg.get("rev", ""))
    if rev != COMPARATOR_REV:
        checks.append(
            SetupCheck(
                "comparator (strict mode)",
                False,
                f"manifest pins {rev[:12]}, this prover expects {COMPARATOR_REV[:12]} (pre-v25)",
                "restore lean_project/lake-manifest.json from this checkout",
                required,
            )
        )
    want = read_toolchain(project)
    got = read_toolchain(project / ".lake" / "packages" / COMPARATOR_PACKAGE)
    comparator = find_comparator(project)
    if comparator is None:
        checks.append(SetupCheck("comparator (strict mode)", False, "not built", fix, required))
    elif got and want and toolchain_version(got) != toolchain_version(want):
        checks.append(
            SetupCheck("comparator (strict mode)", False, f"built for {got}, the project pins {want}", fix, required)
        )
    else:
        found = f"{comparator} ({got or 'toolchain ?'})"
        checks.append(SetupCheck("comparator (strict mode)", True, found, None, required))
    export = find_lean4export(project)
    if export is None:
        checks.append(SetupCheck("lean4export (strict mode)", False, "not built", fix, required))
    else:
        checks.append(SetupCheck("lean4export (strict mode)", True, str(export), None, required))
    landrun = find_landrun(project)
    if landrun is None:
        checks.append(
            SetupCheck(
                "landrun sandbox (strict mode)",
                False,
                "not found",
                f"install Go, then rerun {fix} (or put landrun on PATH)",
                required,
            )
        )
    else:
        version = _landrun_version(landrun) if run_versions else None
        found = f"{landrun} {version or ''}".strip()
        checks.append(SetupCheck("landrun sandbox (strict mode)", True, found, None, required))
    return checks


def _landrun_version(exe: Path) -> str | None:
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"\d+\.\d+\.\d+", out.stdout + out.stderr)
    return m.group(0) if m else None
