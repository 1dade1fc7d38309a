"""Naming a theorem: from a benchmark JSONL, from a ``.lean`` file, or from a statement string.

`load_theorem` is what ``prover prove`` uses. Benchmark rows are read by ``data.benchmarks`` (the loaders
of ``prover batch``): ``statement`` = the row's ``formal_statement``, ``header`` = its ``header``,
``source`` = ``benchmark:split``, the other fields in ``meta``.
"""

from __future__ import annotations

import re
from pathlib import Path

from data.benchmarks import BENCHMARKS, load_benchmark_files, load_theorems
from prover.errors import UserError, closest
from prover.lean.syntax import scan
from prover.lean.types import Theorem

# ---------------------------------------------------------------------------------------------------
# Benchmarks


def load_benchmark_theorem(benchmark: str, name: str, benchmark_dir: Path, split: str | None = None) -> Theorem:
    """The theorem ``name`` (or key) of ``benchmark`` (searching the valid and test splits unless ``split``).

    Read by the batch runs' loaders, so that ``prove`` and ``batch`` read a benchmark the same way: a
    registered name or a ``.jsonl`` path by ``data.benchmarks.load_theorems``, any other name by the JSONL
    files ``<benchmark_dir>/<benchmark>[_<split>].jsonl`` (``data.benchmarks.load_benchmark_files``).
    """
    if benchmark in BENCHMARKS or Path(benchmark).suffix == ".jsonl":
        theorems = load_theorems(benchmark, split, benchmark_dir)
    else:
        theorems = load_benchmark_files(benchmark, split, benchmark_dir)
    hits = [t for t in theorems if t.name == name or t.meta.get("key") == name]
    if not hits and split is not None:  # in another split? say so, rather than "not found"
        every = load_benchmark_theorem_candidates(benchmark, benchmark_dir)
        elsewhere = sorted({str(t.meta.get("split") or "?") for t in every if name in (t.name, t.meta.get("key"))})
        if elsewhere:
            raise UserError(
                f"theorem {name!r} is in the {' and '.join(elsewhere)} split of {benchmark!r}, not {split!r}: "
                f"use --split {elsewhere[0]} or leave --split out"
            )
    if not hits:
        close = closest(name, [t.name for t in theorems])
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"theorem {name!r} not found in benchmark {benchmark!r}{hint}")
    if len(hits) > 1:
        where = ", ".join(t.source for t in hits)
        raise UserError(f"theorem {name!r} is in several splits ({where}); pick one with --split")
    return hits[0]


def load_benchmark_theorem_candidates(benchmark: str, benchmark_dir: Path) -> list[Theorem]:
    """Every theorem of ``benchmark``, all splits (for the message about a name in another split)."""
    try:
        if benchmark in BENCHMARKS or Path(benchmark).suffix == ".jsonl":
            return load_theorems(benchmark, None, benchmark_dir)
        return load_benchmark_files(benchmark, None, benchmark_dir)
    except UserError:
        return []


# ---------------------------------------------------------------------------------------------------
# .lean files (declarations found by `prover.lean.syntax`, the project's Lean scanner)


def load_file_theorem(path: Path, name: str) -> Theorem:
    """Theorem ``name`` of a ``.lean`` file: ``header`` = everything above its declaration (imports,
    options, earlier lemmas it may use), ``statement`` = the declaration (with its doc comment, attributes
    and ``open … in`` prefixes) up to ``:= by``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it ({e})") from e
    src = scan(text)
    names = []
    for d in src.declarations:
        if not d.is_theorem or d.name is None or d.full_name is None:
            continue
        names.append(d.name)
        if name not in (d.name, d.full_name, d.name.split(".")[-1]) and not name.endswith("." + d.name):
            continue
        line = src.line_col(d.keyword)[0]
        if d.delimiter != ":=" or d.delimiter_span is None:
            raise UserError(f"{path}:{line}: cannot find the ':=' that ends the statement of {name!r}")
        start = d.outer_start
        statement = text[start : d.delimiter_span[1]].rstrip() + " by"
        header = text[:start].rstrip() + "\n" if text[:start].strip() else ""
        return Theorem(name=d.name, statement=statement, header=header, source=f"{path}:{line}")
    hint = f"; it declares {', '.join(names[:10])}" if names else "; it declares no theorem or lemma"
    raise UserError(f"theorem {name!r} not found in {path}{hint}")


# ---------------------------------------------------------------------------------------------------
# Statement strings

_STMT = re.compile(r"^\s*(?:(?:private|protected|noncomputable)\s+)*(theorem|lemma|example)\b\s*([^\s:({\[⦃]*)")
_TRAILING_PROOF = re.compile(r":=\s*(?:by\s*)?(?:sorry)?\s*$")


def theorem_from_statement(statement: str, header: str = "", name: str | None = None) -> Theorem:
    """A `Theorem` from ``theorem NAME ... := by`` (``:=``, ``:= by sorry`` or no ``:=`` also work)."""
    statement = statement.strip()
    m = _STMT.match(statement)
    if not m:
        raise UserError("statement must start with 'theorem NAME', 'lemma NAME' or 'example'")
    decl_name = m.group(2) if m.group(1) != "example" else ""
    stmt = statement.rstrip()
    t = _TRAILING_PROOF.search(stmt)
    if t:
        stmt = stmt[: t.start()].rstrip()
    if not stmt[m.end() :].strip():
        raise UserError("statement has no type (expected 'theorem NAME : TYPE := by')")
    stmt += " := by"
    return Theorem(name=name or decl_name or "example", statement=stmt, header=header, source="statement")


# ---------------------------------------------------------------------------------------------------


def load_theorem(
    *,
    benchmark: str | None = None,
    name: str | None = None,
    split: str | None = None,
    benchmark_dir: Path | None = None,
    file: Path | None = None,
    theorem: str | None = None,
    statement: str | None = None,
    header: str | None = None,
) -> Theorem:
    """One theorem named in exactly one of three ways:

    * ``benchmark`` + ``name`` (+ ``split``): a row of ``<benchmark_dir>/<benchmark>_<split>.jsonl``;
    * ``file`` + ``theorem``: a declaration of a ``.lean`` file;
    * ``statement`` (+ ``header``): the statement text itself.
    """
    given = [k for k, v in (("benchmark", benchmark), ("file", file), ("statement", statement)) if v]
    if len(given) != 1:
        raise UserError("name the theorem in one way: --benchmark B --name N, --file F --theorem N, or --statement S")
    if benchmark:
        if not name:
            raise UserError("--benchmark needs --name")
        if benchmark_dir is None:
            from data.config import default_benchmark_dir

            benchmark_dir = default_benchmark_dir()
        return load_benchmark_theorem(benchmark, name, benchmark_dir, split)
    if file:
        if not theorem:
            raise UserError("--file needs --theorem NAME")
        thm = load_file_theorem(Path(file), theorem)
        if header is not None:
            thm = Theorem(thm.name, thm.statement, header, thm.source, thm.meta)
        return thm
    assert statement is not None
    return theorem_from_statement(statement, header or "", name)
