"""Opening a theorem at its place: env ids for "a file's header + its text up to an offset", per REPL process.

The theorems of one file are visited in order, so a place is reached from the previous one by elaborating
only the text in between (``cmd`` in the previous place's env: the REPL keeps the command state, so
``namespace``, ``open``, ``variable`` and ``section`` carry over, as in ``pickle_open`` / ``variables`` of
the REPL's own tests). Env ids belong to one process *generation*: after a restart (timeout, crash,
recycling) the chain is rebuilt from the header.

`PlaceRunner` is what the soundness gate talks to for a mutant: its ``header_env`` of the place's header text
is the place's env, everything else goes to the process, so the gate checks the mutant exactly where it will
live (the text after the source theorem's place) without re-elaborating the file for every mutant.
"""

from __future__ import annotations

import logging
from typing import Any

from data.mutate.candidates import SourceFile
from prover.lean.repl import ReplBase
from prover.lean.types import CommandResult, LeanCrashed, LeanInputError

log = logging.getLogger(__name__)


class PlaceError(LeanInputError):
    """The file's header or the text before the theorem does not elaborate (the theorem cannot be opened)."""


def _pkey(proc: ReplBase) -> int:
    return proc.proc_id


class Places:
    """Env ids of places, built incrementally and cached per (process, generation)."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout
        self._chains: dict[tuple[int, int], dict[str, list[tuple[int, int]]]] = {}
        self.context_errors: dict[str, int] = {}  # file → error messages while elaborating its text

    def env(self, proc: Any, sf: SourceFile, upto: int, text: str) -> int:
        """The env of ``sf``'s header + its text up to offset ``upto`` in ``proc``."""
        gen = proc.generation
        key = (_pkey(proc), gen)
        if key not in self._chains:  # a new generation: ids of older ones are gone
            self._chains = {k: v for k, v in self._chains.items() if k[0] != key[0]}
            self._chains[key] = {}
        chain = self._chains[key].setdefault(sf.path, [])
        base = max((c for c in chain if c[0] <= upto), default=None, key=lambda c: c[0])
        if base is None:
            try:
                env = proc.header_env(sf.header)
            except LeanInputError as e:
                raise PlaceError(f"{sf.path}: the import header does not elaborate: {_first(str(e))}") from e
            base = (sf.header_end, env)
            chain.append(base)
        off, env = base
        if off == upto or not text[off:upto].strip():
            return env
        res: CommandResult = proc.command(text[off:upto], env=env, timeout=self.timeout)
        if proc.generation != gen:  # pragma: no cover - a restart always raises in the request
            raise LeanCrashed("the REPL restarted while elaborating a file's context")
        if res.error is not None or res.env is None:
            raise PlaceError(f"{sf.path}: the text before offset {upto} does not elaborate: {_first(res.error or '')}")
        if res.errors:
            n = len(res.errors)
            self.context_errors[sf.path] = self.context_errors.get(sf.path, 0) + n
            e0 = res.errors[0]
            where = f"{e0.pos.line}:{e0.pos.column}" if e0.pos else "?"
            log.warning("%s: %d error(s) in the text before offset %d (first at %s of the chunk: %s)",
                        sf.path, n, upto, where, _first(e0.data))
        chain.append((upto, res.env))
        return res.env

    def forget(self, proc: Any) -> None:
        """Drop every env of ``proc`` (after recycling it between files)."""
        self._chains = {k: v for k, v in self._chains.items() if k[0] != _pkey(proc)}


class PlaceRunner:
    """A `prover.lean.gate.CommandRunner` whose header env of ``place_header`` is a place's env."""

    def __init__(self, proc: ReplBase, places: Places, sf: SourceFile, upto: int, text: str, place_header: str) -> None:
        self._proc, self._places, self._sf, self._upto, self._text = proc, places, sf, upto, text
        self.place_header = place_header

    @property
    def lean_version(self) -> str | None:
        return self._proc.lean_version

    def header_env(self, header: str) -> int:
        if header == self.place_header:
            return self._places.env(self._proc, self._sf, self._upto, self._text)
        return self._proc.header_env(header)

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
        return self._proc.command(cmd, env=env, **kw)


def place_header(sf: SourceFile, upto: int, text: str) -> str:
    """The header text of a place: the file's imports and its text up to ``upto`` (what `PlaceRunner` maps)."""
    return text[:upto]


def _first(s: str) -> str:
    lines = [x for x in s.strip().splitlines() if x.strip()]
    return lines[0][:200] if lines else "no answer"
