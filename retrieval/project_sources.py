"""The default corpus sources: the packages of the user's Lean project, and its toolchain's core library.

``prover index build`` without ``--source`` indexes what the REPL will load: every package Lake downloaded
into ``<project>/.lake/packages/`` (Mathlib, Batteries, Aesop, Qq, ... at the versions ``lake-manifest.json``
pins; the REPL package itself is a tool, not a library, and is left out), plus Lean core (``Init``, ``Std``)
from the sources elan installs with the toolchain the project pins (``<sysroot>/src/lean``, the layout of
Lake's ``LeanInstall.srcDir``), when that toolchain is installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from prover.errors import UserError
from prover.lean.project import REPL_PACKAGE, elan_home, read_toolchain, toolchain_dir

log = logging.getLogger(__name__)

NOT_LIBRARIES = frozenset({REPL_PACKAGE.lower()})


def package_dirs(project: Path) -> list[Path]:
    """The library packages in ``project/.lake/packages`` (sorted by name; the REPL left out)."""
    pk = Path(project) / ".lake" / "packages"
    if not pk.is_dir():
        return []
    return sorted((p for p in pk.iterdir() if p.is_dir() and p.name.lower() not in NOT_LIBRARIES),
                  key=lambda p: p.name.lower())


def core_source_dir(project: Path) -> Path | None:
    """``<toolchain sysroot>/src/lean`` of the toolchain ``project/lean-toolchain`` pins, if it is installed."""
    tc = read_toolchain(Path(project))
    if not tc:
        return None
    src = toolchain_dir(tc) / "src" / "lean"
    return src if (src / "Init" / "Prelude.lean").is_file() else None


def default_sources(project: Path) -> list[Path]:
    """Corpus sources for ``project``: its packages, then Lean core when the toolchain is installed.

    Raises `UserError` (one line) when the project has no downloaded packages.
    """
    project = Path(project)
    pkgs = package_dirs(project)
    if not pkgs:
        where = project / ".lake" / "packages"
        raise UserError(f"no --source given and {where} holds no Lean packages: run scripts/setup_lean.sh "
                        "(downloads Mathlib into the project) or give --source PATH")
    core = core_source_dir(project)
    if core is None:
        log.warning("Lean core (Init, Std) not indexed: the toolchain %s is not installed under %s",
                    read_toolchain(project) or "(no lean-toolchain file)", elan_home() / "toolchains")
        return pkgs
    return [*pkgs, core]
