"""Naming a theorem: from a benchmark JSONL, from a ``.lean`` file, or from a statement string.

`load_theorem` is what ``prover prove`` uses. Benchmark rows are read by the small JSONL reader here
(`load_benchmark_theorem`; batch runs may route it through their own benchmark loader): ``statement`` =
the row's ``formal_statement``, ``header`` = its ``header``, ``source`` = ``benchmark:split``, the other
fields in ``meta``.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from prover.errors import UserError
from prover.lean.types import Theorem

SPLITS = ("valid", "test")


# ---------------------------------------------------------------------------------------------------
# Benchmarks


def benchmark_files(benchmark: str, benchmark_dir: Path, split: str | None = None) -> list[Path]:
    """JSONL files of ``benchmark``: a path to a ``.jsonl`` file, ``<dir>/<benchmark>.jsonl`` (a file
    stem such as ``minif2f_test``), or ``<dir>/<benchmark>_<split>.jsonl`` for each split."""
    p = Path(benchmark)
    if p.suffix == ".jsonl":
        if not p.is_file():
            raise UserError(f"benchmark file not found: {p}")
        return [p]
    d = Path(benchmark_dir)
    whole = d / f"{benchmark}.jsonl"
    if whole.is_file() and split is None:
        return [whole]
    splits = [split] if split else list(SPLITS)
    files = [d / f"{benchmark}_{s}.jsonl" for s in splits]
    found = [f for f in files if f.is_file()]
    if not found:
        names = sorted(f.stem for f in d.glob("*.jsonl")) if d.is_dir() else []
        hint = f"; available: {', '.join(names)}" if names else f" (directory {d} has none; set batch.benchmark_dir)"
        want = " or ".join(str(f.name) for f in files)
        raise UserError(f"benchmark {benchmark!r}: no {want} in {d}{hint}")
    return found


def theorem_from_row(row: dict[str, Any], source: str) -> Theorem:
    try:
        name, statement = str(row["name"]), str(row["formal_statement"])
    except KeyError as e:
        raise UserError(f"{source}: row without {e.args[0]!r}") from e
    meta = {k: v for k, v in row.items() if k not in ("name", "formal_statement", "header")}
    return Theorem(name=name, statement=statement, header=str(row.get("header") or ""), source=source, meta=meta)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{i}: not JSON ({e.msg})") from e
    return rows


def load_benchmark_theorem(benchmark: str, name: str, benchmark_dir: Path, split: str | None = None) -> Theorem:
    """The theorem ``name`` of ``benchmark`` (searching the valid and test splits unless ``split``).

    Uses the batch runs' loader (``data.benchmarks.load_theorems``) when it is there, so that ``prove``
    and ``batch`` read a benchmark the same way; else the minimal JSONL reader below.
    """
    try:
        from data.benchmarks import BENCHMARKS, load_theorems
    except ImportError:
        return _load_benchmark_theorem_jsonl(benchmark, name, benchmark_dir, split)
    if benchmark not in BENCHMARKS and Path(benchmark).suffix != ".jsonl":
        return _load_benchmark_theorem_jsonl(benchmark, name, benchmark_dir, split)
    theorems = load_theorems(benchmark, split, benchmark_dir)
    hits = [t for t in theorems if t.name == name or t.meta.get("key") == name]
    if not hits:
        close = difflib.get_close_matches(name, [t.name for t in theorems], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"theorem {name!r} not found in benchmark {benchmark!r}{hint}")
    if len(hits) > 1:
        where = ", ".join(t.source for t in hits)
        raise UserError(f"theorem {name!r} is in several splits ({where}); pick one with --split")
    return hits[0]


def _load_benchmark_theorem_jsonl(benchmark: str, name: str, benchmark_dir: Path, split: str | None) -> Theorem:
    files = benchmark_files(benchmark, benchmark_dir, split)
    hits: list[Theorem] = []
    for f in files:
        stem = f.stem
        sp = stem.rsplit("_", 1)[1] if "_" in stem and stem.rsplit("_", 1)[1] in SPLITS else (split or "")
        bench = stem[: -len(sp) - 1] if sp and stem.endswith("_" + sp) else stem
        source = f"{bench}:{sp}" if sp else bench
        for row in _read_rows(f):
            if str(row.get("name")) == name:
                hits.append(theorem_from_row(row, source))
    if not hits:
        close = _close_names(name, files)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"theorem {name!r} not found in {', '.join(str(f) for f in files)}{hint}")
    if len(hits) > 1:
        where = ", ".join(t.source for t in hits)
        raise UserError(f"theorem {name!r} is in several splits ({where}); pick one with --split")
    return hits[0]


def _close_names(name: str, files: list[Path]) -> list[str]:
    names = [str(r.get("name")) for f in files for r in _read_rows(f)]
    return difflib.get_close_matches(name, names, n=3)


# ---------------------------------------------------------------------------------------------------
# .lean files

_DECL = re.compile(r"(?m)^[ \t]*(?:(?:private|protected|noncomputable|nonrec)\s+)*(theorem|lemma)\s+(\S+)")


def _strip_comments_and_strings(text: str) -> str:
    """``text`` with comments and string literals replaced by spaces (same length, same newlines)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, min(j + 1, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _statement_end(code: str, start: int) -> int | None:
    """Index just after the top-level ``:=`` that ends the declaration's signature."""
    depth = 0
    i = start
    n = len(code)
    while i < n:
        c = code[i]
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth = max(0, depth - 1)
        elif depth == 0 and code.startswith(":=", i):
            return i + 2
        elif depth == 0 and c == "|" and code[i - 1] == "\n":
            return None  # pattern-matching definition: no `:=`
        i += 1
    return None


def _decl_start(text: str, code: str, kw_line_start: int) -> int:
    """Move the declaration start back over a doc comment and attributes directly above it."""
    start = kw_line_start
    while True:
        before = text[:start].rstrip()
        if before.endswith("-/"):
            j = before.rfind("/--")
            if j >= 0 and code[j : len(before)].strip() == "":
                start = j
                continue
        m = re.search(r"@\[[^\]]*\]\s*$", before)
        if m:
            start = m.start()
            continue
        return start


def load_file_theorem(path: Path, name: str) -> Theorem:
    """Theorem ``name`` of a ``.lean`` file: ``header`` = everything above its declaration (imports,
    options, earlier lemmas it may use), ``statement`` = the declaration up to ``:= by``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    text = path.read_text(encoding="utf-8")
    code = _strip_comments_and_strings(text)
    names = []
    for m in _DECL.finditer(code):
        decl = m.group(2)
        names.append(decl)
        if name not in (decl, decl.split(".")[-1]) and not name.endswith("." + decl):
            continue
        kw_line = code.rfind("\n", 0, m.start()) + 1
        start = _decl_start(text, code, kw_line)
        end = _statement_end(code, m.end())
        if end is None:
            line = text.count("\n", 0, m.start()) + 1
            raise UserError(f"{path}:{line}: cannot find the ':=' that ends the statement of {name!r}")
        statement = text[start:end].rstrip() + " by"
        header = text[:start].rstrip() + "\n" if text[:start].strip() else ""
        line = text.count("\n", 0, m.start(1)) + 1
        return Theorem(name=decl, statement=statement, header=header, source=f"{path}:{line}")
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
