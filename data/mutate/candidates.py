"""Candidate theorems for mutation, read from a Lean source tree, with what opens each one at its place.

A *place* is the source file's import header plus the file's text up to the theorem: elaborating that text
gives the exact scope the theorem was written in (``namespace``, ``open``, ``variable``, local notation and
instances, earlier lemmas, ``private`` ones included). The theorems of one file are taken in order, so one
REPL process elaborates the file once, chunk by chunk (`data.mutate.places`).

Sources: a directory of ``.lean`` files (a Mathlib checkout; by default the Mathlib that ``lean_project``
builds), a source archive (``*.tar.zst`` / ``*.tar.gz``, e.g. ``../shared/corpus/``), optionally narrowed to
the theorems of LeanDojo traced data (``--leandojo``: its ``full_name`` / ``file_path`` records). Files are
read with `prover.lean.syntax`.

A theorem is skipped (with the reason recorded) when the mutation pipeline cannot restore its proof: a proof
by pattern matching or with ``where`` / ``termination_by`` (no ``:= proof`` to wrap in a ``have``), a proof
that names the theorem itself (recursion), a declaration inside ``mutual``, or a statement whose binders
cannot be read.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from data.mutate.statement import StatementError, mentions, parse_signature
from prover.errors import UserError
from prover.lean.goals import flat
from prover.lean.syntax import Declaration, Source, scan

log = logging.getLogger(__name__)

EXCLUDE_DIRS = frozenset({".lake", "lake-packages", ".git", "build", "test", "tests", "scripts"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """A theorem to mutate, located in its file."""

    key: str  # "FILE:LINE:NAME", unique in a run
    name: str  # full name
    file: str  # path relative to the source root
    line: int
    start: int  # offset where its command (with `open … in` prefixes) starts: the place ends here
    statement: str  # `open … in`* + `theorem NAME binders : type` (no attributes, doc or modifiers)
    signature_start: int  # offset of `theorem` / `lemma` within `statement`
    proof: str  # the text after `:=`

    @property
    def written_name(self) -> str:
        return parse_signature(self.statement).name


@dataclass
class SourceFile:
    """One file of the source tree: its header, its text, its candidates (in order) and skipped theorems."""

    root: Path
    path: str  # relative to root
    header: str  # the import header (its text, comments included)
    header_end: int
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    @property
    def module(self) -> str:
        return self.path[:-5].replace("/", ".") if self.path.endswith(".lean") else self.path

    def text(self) -> str:
        return (self.root / self.path).read_text(encoding="utf-8")

    def context(self, upto: int, text: str | None = None) -> str:
        """The file's text from the end of the header up to offset ``upto`` (a place's context)."""
        text = self.text() if text is None else text
        return text[self.header_end : upto]


def _skip_reason(src: Source, d: Declaration) -> str | None:
    if d.in_mutual:
        return "declared inside `mutual`"
    if d.delimiter != ":=" or d.proof is None:
        return "no `:= proof` (pattern-matching or `where` proof)"
    proof = src.text[d.proof[0] : d.proof[1]]
    masked = src.masked[d.proof[0] : d.proof[1]]
    for word in ("termination_by", "decreasing_by"):
        if word in masked:
            return f"recursive proof ({word})"
    if d.name and mentions(proof, d.name):
        return "the proof names the theorem itself (recursion)"
    return None


def file_candidates(root: Path, rel: str, text: str | None = None) -> SourceFile:
    """Scan one file: its theorems in order, each a `Candidate` or a skip reason."""
    if text is None:
        text = (root / rel).read_text(encoding="utf-8")
    src = scan(text)
    header = src.header
    sf = SourceFile(root, rel, text[: header.end], header.end)
    for d in src.declarations:
        if not d.is_theorem or d.full_name is None:
            continue
        key = f"{rel}:{d.line}:{d.full_name}"
        why = _skip_reason(src, d)
        if why is None:
            prefix = flat(text[d.outer_start : d.start])
            sig = text[d.keyword : d.statement_end].rstrip()
            statement = f"{prefix}\n{sig}" if prefix else sig
            try:
                parse_signature(statement)
            except StatementError as e:
                why = f"statement not readable: {e}"
        if why is not None:
            sf.skipped.append((key, why))
            continue
        assert d.proof is not None
        sf.candidates.append(
            Candidate(
                key=key,
                name=d.full_name,
                file=rel,
                line=d.line,
                start=d.outer_start,
                statement=statement,
                signature_start=len(statement) - len(sig),
                proof=text[d.proof[0] : d.proof[1]].rstrip(),
            )
        )
    return sf


def source_root(source: Path, cache_dir: Path | None = None) -> Path:
    """The directory of ``.lean`` files a source names (an archive is unpacked once into the cache)."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"source not found: {source}")
    if source.is_file():
        if not source.name.endswith((".tar.zst", ".tar.zstd", ".tar.gz", ".tgz", ".tar")):
            raise UserError(f"{source}: give a directory of .lean files or a .tar.zst / .tar.gz archive of one")
        from retrieval.corpus import unpack_archive

        return unpack_archive(source, cache_dir)
    return source


def lean_files(root: Path, patterns: Iterable[str] = ()) -> list[str]:
    """``.lean`` files under ``root`` (relative, sorted), optionally only those matching a glob pattern."""
    pats = list(patterns)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDE_DIRS and not d.startswith("."))
        for f in sorted(filenames):
            if not f.endswith(".lean"):
                continue
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            if pats and not any(fnmatch.fnmatch(rel, p) for p in pats):
                continue
            out.append(rel)
    return out


def leandojo_selection(path: Path) -> set[tuple[str, str]]:
    """(file_path, full_name) of the theorems of LeanDojo traced data: a JSON list of theorems (Benchmark 4
    ``train.json`` …) or JSONL records (one per theorem or per traced tactic)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
    except ValueError as e:
        raise UserError(f"{path}: not LeanDojo JSON / JSONL ({e})") from e
    out: set[tuple[str, str]] = set()
    for r in rows:
        if not isinstance(r, dict) or "full_name" not in r or "file_path" not in r:
            raise UserError(f"{path}: records need `full_name` and `file_path` (LeanDojo traced theorems)")
        fp = str(r["file_path"]).replace("\\", "/")
        for marker in (".lake/packages/", "lake-packages/"):  # LeanDojo's paths of dependencies
            if marker in fp:
                fp = fp.split(marker, 1)[1].split("/", 1)[-1]
        out.add((fp, str(r["full_name"])))
    return out


def iter_source_files(
    root: Path, files: Iterable[str] = (), selection: set[tuple[str, str]] | None = None
) -> Iterator[SourceFile]:
    """Each file with candidates (narrowed to ``selection`` when given), in path order."""
    wanted_files = {f for f, _ in selection} if selection is not None else None
    for rel in lean_files(root, files):
        if wanted_files is not None and rel not in wanted_files:
            continue
        try:
            sf = file_candidates(root, rel)
        except (OSError, UnicodeDecodeError) as e:
            log.warning("skipping %s: %s", rel, e)
            continue
        if selection is not None:
            sf.candidates = [c for c in sf.candidates if (rel, c.name) in selection]
            sf.skipped = [s for s in sf.skipped if (rel, s[0].rsplit(":", 1)[-1]) in selection]
        if sf.candidates or sf.skipped:
            yield sf
