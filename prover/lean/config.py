"""Configuration of the Lean layer (where the project is, limits of each REPL process, what the soundness gate
lets through)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from prover.lean.syntax import COMMAND_KEYWORDS, HASH_COMMANDS, MODIFIERS
from prover.lean.types import DEFAULT_ALLOWED_AXIOMS

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "lean_project"


def default_project_dir() -> Path:
    """``$PROVER_LEAN_PROJECT`` if set, else the ``lean_project/`` of this checkout."""
    return Path(os.environ.get("PROVER_LEAN_PROJECT", DEFAULT_PROJECT_DIR))


_KNOWN_COMMANDS = COMMAND_KEYWORDS | {"class inductive"} | {"#" + w for w in HASH_COMMANDS}


class TextPolicy(BaseModel):
    """What a checked text may contain besides its theorem (the gate's static screen, `prover.lean.gate`).

    ``commands``: command kinds allowed (``theorem``, ``open``, ``#check``...); an ``axiom`` is never allowed.
    ``modifiers``: declaration modifiers allowed. ``attributes``, ``options``, ``imports``: shell patterns
    (``fnmatch``) of attribute names, ``set_option`` names (anywhere, proofs included) and modules a text
    may import beyond its theorem's header. ``meta``: allow meta-level code (``run_tac``, ``by_elab``,
    ``#eval``, macros and elaborators, string / name literals, syntax quotations, environment editing). With
    ``meta`` on, the REPL gate cannot vouch for the text: only strict mode can.
    """

    model_config = {"extra": "forbid"}

    commands: list[str] = Field(
        default_factory=lambda: [
            "theorem", "lemma", "def", "abbrev", "example", "open", "namespace", "section", "end", "variable",
            "universe", "set_option", "#print", "#check",  # read-only; Seed-Prover's files end in `#print axioms`
        ]
    )
    modifiers: list[str] = Field(default_factory=lambda: ["private", "protected", "noncomputable"])
    attributes: list[str] = Field(default_factory=lambda: ["simp"])
    options: list[str] = Field(
        default_factory=lambda: [
            "maxHeartbeats", "maxRecDepth", "synthInstance.maxHeartbeats", "synthInstance.maxSize",
            "tactic.hygienic", "pp.*",
        ]
    )
    imports: list[str] = Field(default_factory=lambda: ["Mathlib", "Mathlib.*", "Aesop", "Batteries", "Batteries.*"])
    meta: bool = False

    @classmethod
    def user_file(cls) -> TextPolicy:
        """The default for a user's own file (``prover check``): any declaration, scope, attribute and option,
        no meta-level code."""
        return cls(
            commands=[
                "theorem", "lemma", "def", "abbrev", "example", "instance", "structure", "class", "class inductive",
                "inductive", "mutual", "open", "export", "namespace", "section", "end", "variable", "universe",
                "set_option", "attribute", "omit", "include", "deriving", "#check", "#print", "#reduce", "#synth",
            ],
            modifiers=["private", "protected", "public", "noncomputable", "nonrec", "partial"],
            attributes=["*"],
            options=["*"],
            imports=["*"],
        )

    @field_validator("commands")
    @classmethod
    def _known_commands(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in _KNOWN_COMMANDS]
        if unknown:
            raise ValueError(f"unknown command kind(s) {', '.join(map(repr, unknown))}")
        if "axiom" in v:
            raise ValueError("'axiom' can never be allowed: a text could then prove anything")
        return v

    @field_validator("modifiers")
    @classmethod
    def _known_modifiers(cls, v: list[str]) -> list[str]:
        unknown = [m for m in v if m not in MODIFIERS]
        if unknown:
            known = ", ".join(sorted(MODIFIERS))
            raise ValueError(f"unknown modifier(s) {', '.join(map(repr, unknown))}; known: {known}")
        return v


class LeanConfig(BaseModel):
    model_config = {"extra": "forbid"}

    project_dir: Path = Field(default_factory=default_project_dir)
    # The REPL command, run inside project_dir. Empty: `lake env <project>/.lake/packages/REPL/...`.
    repl_command: list[str] = Field(default_factory=list)
    timeout: float = Field(60.0, gt=0)  # seconds per tactic / command request
    header_timeout: float = Field(600.0, gt=0)  # elaborating `import Mathlib` from scratch is slow
    memory_limit_mb: int | None = Field(16_000, ge=1)  # RLIMIT_AS per REPL process; None = unlimited
    max_requests: int = Field(2_000, ge=1)  # recycle a process after this many requests
    max_rss_mb: int | None = Field(12_000, ge=1)  # recycle a process above this resident size
    num_processes: int = Field(1, ge=1)  # pool size
    allowed_axioms: list[str] = Field(default_factory=lambda: sorted(DEFAULT_ALLOWED_AXIOMS))
    record_path: Path | None = None  # write every request/response to this JSONL file
    replay_path: Path | None = None  # answer from such a recording instead of running Lean (ReplPool)
    header_pickle_dir: Path | None = None  # pickle each header env here once; new processes unpickle it
    # What proved means: "repl" = the REPL gate; "strict" = the REPL gate, then an independent checker
    # replays the proof's declarations in the kernel (see README "What proved means").
    verify: Literal["repl", "strict"] = "repl"
    strict_timeout: float = Field(default=1800.0, gt=0)  # seconds for one comparator run (two module builds)
    text_policy: TextPolicy = Field(default_factory=TextPolicy)  # proof texts written by a model
    file_policy: TextPolicy = Field(default_factory=TextPolicy.user_file)  # a user's own file (`prover check`)
