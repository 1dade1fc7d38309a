"""Finding the Lean project, its toolchain, Mathlib build and REPL binary, and how to run the REPL.

The project (``lean_project/`` of this checkout by default, else config ``lean.project_dir``, env var
``PROVER_LEAN_PROJECT`` or the CLI flag ``--lean-project``) is a Lake project that requires Mathlib and
the `repl` (leanprover-community) at the tag of its ``lean-toolchain``. The REPL runs as
``lake env <project>/.lake/packages/REPL/.lake/build/bin/repl`` inside the project, so that it sees
the project's ``LEAN_PATH`` (Mathlib's ``.olean`` files).

`diagnose` lists what is found and what is missing (used by ``prover doctor``); `resolve_repl_command`
runs the same checks and raises `LeanSetupError` with one actionable line at the first failure.
Nothing here downloads anything: running ``lake`` through elan's proxy in a project whose toolchain is
not installed would start a download, so the toolchain's own binaries are used when elan has them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prover.lean.config import LeanConfig
from prover.lean.types import LeanSetupError

SETUP_SCRIPT = "scripts/setup_lean.sh"
REPL_PACKAGE = "REPL"
REPL_BIN_IN_PACKAGE = Path(".lake/build/bin/repl")
REPL_BIN_IN_PROJECT = Path(".lake/packages") / REPL_PACKAGE / REPL_BIN_IN_PACKAGE


@dataclass(frozen=True)
class SetupCheck:
    """One line of ``prover doctor``: what was looked for, what was found, the command that fixes it."""

    name: str
    ok: bool
    found: str
    fix: str | None = None
    required: bool = True  # proving cannot work without it

    @property
    def problem(self) -> str:
        """One line: what is wrong and how to fix it."""
        return f"{self.found} (fix: {self.fix})" if self.fix else self.found


# ---------------------------------------------------------------------------------------------------
# Small pieces


def project_dir(config: LeanConfig) -> Path:
    return Path(config.project_dir).expanduser().resolve()


def read_toolchain(project: Path) -> str | None:
    """The toolchain pinned by ``project/lean-toolchain`` (``leanprover/lean4:v4.24.0``), if any."""
    f = project / "lean-toolchain"
    if not f.is_file():
        return None
    text = f.read_text().strip()
    return text.splitlines()[0].strip() if text else None


def toolchain_version(toolchain: str | None) -> str | None:
    """``leanprover/lean4:v4.24.0`` → ``4.24.0``."""
    if not toolchain:
        return None
    m = re.search(r"v?(\d+\.\d+\.\d+(?:-[\w.]+)?)\s*$", toolchain)
    return m.group(1) if m else None


def elan_home() -> Path:
    return Path(os.environ.get("ELAN_HOME", Path.home() / ".elan"))


def toolchain_dir(toolchain: str) -> Path:
    """Where elan installs ``toolchain`` (``leanprover/lean4:v4.24.0`` → ``toolchains/leanprover--lean4---v4.24.0``)."""
    return elan_home() / "toolchains" / toolchain.replace("/", "--").replace(":", "---")


def find_elan() -> Path | None:
    p = shutil.which("elan")
    if p:
        return Path(p)
    cand = elan_home() / "bin" / "elan"
    return cand if cand.is_file() else None


def find_lake(toolchain: str | None) -> Path | None:
    """The toolchain's own ``lake`` if elan installed it, else ``lake`` on PATH (or in elan's bin)."""
    if toolchain:
        cand = toolchain_dir(toolchain) / "bin" / "lake"
        if cand.is_file():
            return cand
    p = shutil.which("lake")
    if p:
        return Path(p)
    cand = elan_home() / "bin" / "lake"
    return cand if cand.is_file() else None


def is_elan_proxy(path: Path) -> bool:
    """True for elan's ``~/.elan/bin/lake``-style proxies (they pick the toolchain, and may download it)."""
    try:
        return path.resolve().parent == (elan_home() / "bin").resolve() or path.resolve().name == "elan-init"
    except OSError:
        return False


_VERSION_RE = re.compile(r"[Vv]ersion (\d+\.\d+\.\d+(?:-[\w.]+)?)")


def tool_version(exe: Path, *, cwd: Path | None = None, timeout: float = 30.0) -> str | None:
    """``lean --version`` → ``4.24.0``; for ``lake --version`` the Lean version it was built with."""
    return _version_output([str(exe), "--version"], cwd, timeout)


def _version_output(argv: list[str], cwd: Path | None, timeout: float) -> str | None:
    try:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    text = out.stdout + out.stderr
    # lake: "Lake version 5.0.0-abc (Lean version 4.24.0)"; lean: "Lean (version 4.24.0, ...)"
    m = re.search(r"Lean (?:\()?version (\d+\.\d+\.\d+(?:-[\w.]+)?)", text)
    if m:
        return m.group(1)
    m = _VERSION_RE.search(text)
    return m.group(1) if m else None


def manifest_packages(project: Path) -> dict[str, dict]:
    f = project / "lake-manifest.json"
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {p.get("name", ""): p for p in data.get("packages", []) if isinstance(p, dict)}


def _mentions(project: Path, word: str) -> bool:
    for name in ("lakefile.toml", "lakefile.lean"):
        f = project / name
        if f.is_file() and word.lower() in f.read_text().lower():
            return True
    return False


def mathlib_dir(project: Path) -> Path:
    return project / ".lake" / "packages" / "mathlib"


def mathlib_built(project: Path) -> bool:
    build = mathlib_dir(project) / ".lake" / "build" / "lib"
    return (build / "lean" / "Mathlib.olean").is_file() or (build / "Mathlib.olean").is_file()


def find_repl_binary(project: Path) -> Path | None:
    """The REPL built as a dependency of the project, or the project itself being the REPL."""
    for cand in (project / REPL_BIN_IN_PROJECT, project / REPL_BIN_IN_PACKAGE):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _pkg_toolchain(project: Path, package: str) -> str | None:
    return read_toolchain(project / ".lake" / "packages" / package)


# ---------------------------------------------------------------------------------------------------
# The checks


def diagnose(config: LeanConfig, *, run_versions: bool = True) -> list[SetupCheck]:
    """Everything the REPL needs, in the order a user fixes it. ``run_versions`` runs ``lean --version``."""
    checks: list[SetupCheck] = []
    project = project_dir(config)
    script = Path(__file__).resolve().parents[2] / SETUP_SCRIPT
    setup = f"bash {script}" + ("" if _is_default_project(project) else f" {project}")

    if not (project / "lakefile.toml").is_file() and not (project / "lakefile.lean").is_file():
        checks.append(
            SetupCheck(
                "Lean project",
                False,
                f"no Lake project at {project}",
                "set lean.project_dir, PROVER_LEAN_PROJECT or --lean-project to a Lake project "
                "(this checkout's lean_project/ is one)",
            )
        )
        return checks
    checks.append(SetupCheck("Lean project", True, str(project)))

    toolchain = read_toolchain(project)
    if toolchain is None:
        checks.append(
            SetupCheck(
                "lean-toolchain",
                False,
                f"{project}/lean-toolchain is missing",
                "pin one, e.g. `echo leanprover/lean4:v4.24.0 > lean-toolchain`",
            )
        )
        return checks

    elan = find_elan()
    checks.append(
        SetupCheck(
            "elan",
            elan is not None,
            str(elan) if elan else "elan not found",
            None if elan else setup,
            required=False,  # a system-wide lake of the right version also works
        )
    )

    checks += _toolchain_checks(project, toolchain, elan is not None, setup, run_versions)

    pkgs = manifest_packages(project)
    needs_mathlib = "mathlib" in pkgs or _mentions(project, "mathlib")
    if needs_mathlib:
        if not mathlib_dir(project).is_dir():
            checks.append(SetupCheck("Mathlib", False, f"Mathlib not downloaded in {project}/.lake/packages", setup))
        elif not mathlib_built(project):
            checks.append(
                SetupCheck(
                    "Mathlib",
                    False,
                    "Mathlib is downloaded but not built",
                    f"cd {project} && lake exe cache get && lake build",
                )
            )
        else:
            mt = _pkg_toolchain(project, "mathlib")
            if mt and mt != toolchain:
                checks.append(
                    SetupCheck(
                        "Mathlib",
                        False,
                        f"Mathlib was built for {mt}, the project pins {toolchain}",
                        f"cd {project} && lake update mathlib && lake exe cache get",
                    )
                )
            else:
                checks.append(SetupCheck("Mathlib", True, f"built ({mathlib_dir(project)})"))

    repl = find_repl_binary(project)
    if repl is None:
        downloaded = (project / ".lake" / "packages" / REPL_PACKAGE).is_dir()
        checks.append(
            SetupCheck(
                "REPL binary",
                False,
                f"REPL binary not built ({project / REPL_BIN_IN_PROJECT})",
                f"cd {project} && lake build {REPL_PACKAGE}/repl" if downloaded else setup,
            )
        )
    else:
        rt = _pkg_toolchain(project, REPL_PACKAGE) if repl.is_relative_to(project / ".lake" / "packages") else None
        if rt and rt != toolchain:
            checks.append(
                SetupCheck(
                    "REPL binary",
                    False,
                    f"the REPL is pinned to {rt}, the project to {toolchain}",
                    f"set the REPL's rev to {toolchain.split(':')[-1]} in {project}/lakefile.toml, then {setup}",
                )
            )
        else:
            checks.append(SetupCheck("REPL binary", True, str(repl)))
    return checks


def _toolchain_checks(
    project: Path, toolchain: str, have_elan: bool, setup: str, run_versions: bool
) -> list[SetupCheck]:
    want = toolchain_version(toolchain)
    lake = find_lake(toolchain)
    installed = toolchain_dir(toolchain).is_dir()
    if have_elan and not installed:
        return [SetupCheck("toolchain", False, f"{toolchain} is not installed", f"elan toolchain install {toolchain}")]
    if lake is None:
        return [SetupCheck("lake", False, "lake not found (no Lean toolchain)", setup)]
    out = [SetupCheck("lake", True, str(lake))]
    have: str | None = None
    if run_versions and not (is_elan_proxy(lake) and not installed):
        lean = lake.parent / "lean"
        have = tool_version(lean if lean.is_file() else lake, cwd=project)
    if have is not None and want is not None and have != want:
        out.append(
            SetupCheck(
                "toolchain",
                False,
                f"Lean {have} found but {project}/lean-toolchain pins {toolchain}",
                f"elan toolchain install {toolchain} (or put the matching lake first on PATH)",
            )
        )
    else:
        out.append(SetupCheck("toolchain", True, toolchain + (f" (lean {have})" if have else "")))
    return out


def _is_default_project(project: Path) -> bool:
    from prover.lean.config import DEFAULT_PROJECT_DIR

    try:
        return project.resolve() == DEFAULT_PROJECT_DIR.resolve()
    except OSError:
        return False


@dataclass(frozen=True)
class LeanVersion:
    """The Lean version a REPL runs (None: unknown) and where that was read, in words."""

    version: str | None
    source: str


_REPL_VERSIONS: dict[tuple[tuple[str, ...], str], LeanVersion] = {}
_REPL_VERSIONS_LOCK = threading.Lock()


def repl_lean_version(command: Sequence[str], cwd: Path | None) -> LeanVersion:
    """Which Lean a REPL started by ``command`` in ``cwd`` runs (asked once per command and directory).

    The REPL prints no version, so it is asked of what the REPL runs on. Through ``lake env`` (the default
    command, or a ``lean.repl_command`` starting with a ``lake`` executable and ``env``), the REPL runs on
    the toolchain of that lake in ``cwd``, and ``lake env lean --version`` there asks that very Lean. When
    that cannot run, the ``lean-toolchain`` file of ``cwd`` (the toolchain elan picks there) is reported,
    saying so. For any other command nothing trustworthy is known: the version is None.
    """
    key = (tuple(command), str(cwd or ""))
    with _REPL_VERSIONS_LOCK:
        known = _REPL_VERSIONS.get(key)
        if known is None:
            known = _REPL_VERSIONS[key] = _ask_repl_lean_version(list(command), cwd)
        return known


def _ask_repl_lean_version(command: list[str], cwd: Path | None) -> LeanVersion:
    if len(command) < 2 or Path(command[0]).name != "lake" or command[1] != "env":
        return LeanVersion(None, "unknown: lean.repl_command does not run the REPL with `lake env`")
    where = cwd or Path.cwd()
    version = _version_output([command[0], "env", "lean", "--version"], where, 120.0)
    if version:
        return LeanVersion(version, f"`lake env lean --version` in {where}")
    pinned = toolchain_version(read_toolchain(where))
    if pinned:
        return LeanVersion(pinned, f"lean-toolchain of {where} (`lake env lean --version` did not answer)")
    return LeanVersion(None, f"unknown: `lake env lean --version` did not answer in {where}")


def resolve_repl_command(config: LeanConfig) -> tuple[list[str], Path]:
    """``(command, cwd)`` that starts the REPL for ``config``; `LeanSetupError` (one line) when it can't.

    An explicit ``config.repl_command`` is used as is (run in the project dir when it exists).
    """
    project = project_dir(config)
    if config.repl_command:
        return list(config.repl_command), project if project.is_dir() else Path.cwd()
    checks = diagnose(config)
    for c in checks:
        if not c.ok and c.required:
            raise LeanSetupError(f"Lean setup: {c.problem}")
    toolchain = read_toolchain(project)
    lake = find_lake(toolchain)
    repl = find_repl_binary(project)
    assert lake is not None and repl is not None  # diagnose() checked both
    return [str(lake), "env", str(repl)], project
