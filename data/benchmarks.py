"""Benchmark loaders: miniF2F / ProofNet JSONL, any user JSONL of the same fields, and ``.lean`` files.

Every loader returns `Theorem`s whose ``header + statement + " sorry"`` is a checkable Lean file. The
record's other fields go to ``Theorem.meta``: ``split``, ``known_issue`` (``None`` or a one-line reason the
statement is false or vacuous), ``informal_statement``, ``informal_proof``, and whatever else the row has.
``meta["key"]`` is the theorem's unique key in a run (its name, or ``proofnet_id`` where names repeat).

Errors are `UserError`s that name the file and line.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prover.errors import UserError
from prover.lean.syntax import scan
from prover.lean.types import Theorem

SPLITS = ("valid", "test")  # the usual splits, searched for a benchmark known only by its files


@dataclass(frozen=True)
class BenchmarkInfo:
    """A registered benchmark: where its rows come from and what Lean checked its statements.

    ``files`` maps each split to its file in the benchmark directory; ``reader`` says how a row becomes a
    `Theorem` (``jsonl``: `theorem_from_record`; ``putnambench`` / ``formalmath``: their modules).
    ``lean_toolchain`` / ``mathlib`` are what the statements were written and checked against upstream
    (`prover batch` warns when the Lean project differs). ``corrects`` names the benchmark whose statements
    this variant fixes; its changed rows are flagged (``meta["corrected"]``) and reported apart.
    """

    name: str
    files: dict[str, str]
    source: str
    license: str
    lean_toolchain: str | None  # None: upstream does not say
    mathlib: str | None
    reader: str = "jsonl"
    download: str | None = None  # `prover data download NAME` (the name it takes), None: not downloadable
    corrects: str | None = None
    total: int | None = None  # problems upstream, when the field reports "solved out of N"

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.files)


_DS_ENV = "leanprover/lean4:v4.9.0-rc1"
_DS_MATHLIB = "xinhjBrant/mathlib4@2f65ba7 (upstream d1d1e4b, 2024-06-12, plus the REPL)"
REGISTRY: dict[str, BenchmarkInfo] = {
    b.name: b
    for b in (
        BenchmarkInfo(
            "minif2f",
            {"valid": "minif2f_valid.jsonl", "test": "minif2f_test.jsonl"},
            "yangky11/miniF2F-lean4@5746b7d + facebookresearch/miniF2F@e4f1130 (informal)",
            "MIT",
            "leanprover/lean4:v4.24.0",
            "f897ebcf72cd16f89ab4577d0c826cd14afaafc7 (v4.24.0)",
            download="minif2f",
        ),
        BenchmarkInfo(
            "proofnet",
            {"valid": "proofnet_valid.jsonl", "test": "proofnet_test.jsonl"},
            "rahul3613/ProofNet-lean4@6deae98 + zhangir-azerbayev/ProofNet@509ad79 (split, informal)",
            "MIT",
            "leanprover/lean4:v4.20.0",
            "c211948581bde9846a99e32d97a03f0d5307c31e (v4.20.0)",
            download="proofnet",
        ),
        BenchmarkInfo(
            "minif2f_dsv15",
            {"valid": "minif2f_dsv15_valid.jsonl", "test": "minif2f_dsv15_test.jsonl"},
            "deepseek-ai/DeepSeek-Prover-V1.5@2c4ba91 datasets/minif2f.jsonl",
            "MIT (code license; no separate data license)",
            _DS_ENV,
            _DS_MATHLIB,
        ),
        BenchmarkInfo(
            "minif2f_rectified",
            {"test": "minif2f_rectified_test.jsonl"},
            "Goedel-LM/Goedel-Prover-V2@2e9036e dataset/minif2f.jsonl (DS-V1.5 test with the Kimina fixes)",
            "Apache-2.0 (README)",
            _DS_ENV,
            _DS_MATHLIB,
            corrects="minif2f_dsv15",
        ),
        BenchmarkInfo(
            "minif2f_dspplus",
            {"valid": "minif2f_dspplus_valid.jsonl", "test": "minif2f_dspplus_test.jsonl"},
            "microsoft/DSP-Plus@eb98320 datasets/minif2f.jsonl (DS-V1.5 with the statements DSP+ found misformalised "
            "corrected)",
            "MIT",
            None,  # not stated; its Mathlib is the fork caochenrui/mathlib4@8b97781 (a git submodule)
            "caochenrui/mathlib4@8b97781 (fork; toolchain not stated)",
            download="minif2f_dspplus",
            corrects="minif2f_dsv15",
        ),
        BenchmarkInfo(
            "proofnet_dsv15",
            {"valid": "proofnet_dsv15_valid.jsonl", "test": "proofnet_dsv15_test.jsonl"},
            "deepseek-ai/DeepSeek-Prover-V1.5@2c4ba91 datasets/proofnet.jsonl",
            "MIT (code license; no separate data license)",
            _DS_ENV,
            _DS_MATHLIB,
        ),
        BenchmarkInfo(
            "proofnet_verified",
            {"valid": "proofnet_verified_valid.jsonl", "test": "proofnet_verified_test.jsonl"},
            "marcusm117/ProofNet-Verified@1ecc124 data/proofnet-verified.jsonl (audited and corrected ProofNet, "
            "every statement proved by its authors), split from zhangir-azerbayev/ProofNet@509ad79",
            "Apache-2.0",
            "leanprover/lean4:v4.28.0",
            "8f9d9cff6bd728b17a24e163c9402775d9e6a365 (v4.28.0)",
            download="proofnet_verified",
            corrects="proofnet",
        ),
        BenchmarkInfo(
            "putnambench",
            {"test": "putnambench_lean4.jsonl"},
            "trishullab/PutnamBench@3c9b926 lean4/src/*.lean + informal/putnam.json",
            "Apache-2.0 (lean4/LICENSE); informal statements with permission from the MAA",
            "leanprover/lean4:v4.27.0",
            "a3a10db0e9d66acbebf76c5e6a135066525ac900 (v4.27.0)",
            reader="putnambench",
            download="putnambench",
            total=672,
        ),
        BenchmarkInfo(
            "formalmath_lite",
            {"test": "formalmath_lite.jsonl"},
            "Hugging Face SphereLab/FormalMATH-Lite (revision 75e91a8)",
            "MIT (Hugging Face dataset card); no license in the GitHub copies",
            "leanprover/lean4:v4.11.0",
            "8edf04f0977c3183d3b633792e03fd570be1777f (pinned by REPL adbbfcb, which FormalMATH's README installs)",
            reader="formalmath",
            download="formalmath_lite",
            total=425,
        ),
        BenchmarkInfo(
            "formalmath_all",
            {"test": "formalmath_all.jsonl"},
            "Hugging Face SphereLab/FormalMATH-All",
            "MIT (Hugging Face dataset card of FormalMATH-Lite; the same authors)",
            "leanprover/lean4:v4.11.0",
            "8edf04f0977c3183d3b633792e03fd570be1777f (pinned by REPL adbbfcb, which FormalMATH's README installs)",
            reader="formalmath",
            download="formalmath_all",
            total=5560,
        ),
    )
}
# name -> splits (what `prove` / `batch` / `data list` look up)
BENCHMARKS: dict[str, tuple[str, ...]] = {n: b.splits for n, b in REGISTRY.items()}
DOWNLOADABLE = tuple(b.download for b in REGISTRY.values() if b.download)

# miniF2F subjects by name prefix, longest first so `mathd_algebra` wins over `algebra`.
MINIF2F_SUBJECTS: tuple[str, ...] = (
    "mathd_algebra",
    "mathd_numbertheory",
    "amc",
    "aime",
    "imo",
    "induction",
    "algebra",
    "numbertheory",
)


class BenchmarkError(UserError):
    """A benchmark file or selection the user has to fix (message names file and line)."""


# ---------------------------------------------------------------------------------------------------
# Records -> theorems


def _json_type(v: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(v), type(v).__name__
    )


def theorem_from_record(rec: Any, where: str, source: str = "") -> Theorem:
    """One JSONL object to a `Theorem`; ``where`` (``file:line``) prefixes every error."""
    if not isinstance(rec, dict):
        raise BenchmarkError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    for key in ("name", "formal_statement"):
        if key not in rec:
            raise BenchmarkError(f"{where}: missing field {key!r}")
    for key in ("name", "formal_statement", "header", "split"):
        if key in rec and rec[key] is not None and not isinstance(rec[key], str):
            raise BenchmarkError(f"{where}: field {key!r} must be a string, not {_json_type(rec[key])}")
    for key in ("key", "id", "proofnet_id"):  # identify a theorem: a string or a number
        v = rec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, str | int)):
            raise BenchmarkError(f"{where}: field {key!r} must be a string or a number, not {_json_type(v)}")
        if isinstance(v, int):
            rec = {**rec, key: str(v)}
    name = rec["name"].strip()
    stmt = rec["formal_statement"]
    if not name:
        raise BenchmarkError(f"{where}: empty 'name'")
    if not stmt.strip():
        raise BenchmarkError(f"{where}: empty 'formal_statement'")
    if re.search(r"(:=\s*(by)?\s*)sorry\s*$", stmt):
        stmt = re.sub(r"\s*sorry\s*$", "", stmt)  # accept rows that still carry the `sorry`
    ki = rec.get("known_issue")
    meta = {k: v for k, v in rec.items() if k not in ("name", "formal_statement", "header")}
    meta["split"] = rec.get("split") or ""
    meta["known_issue"] = str(ki) if ki else None
    meta.setdefault("key", name)
    meta["origin"] = where
    return Theorem(name=name, statement=stmt, header=rec.get("header") or "", source=source or where, meta=meta)


def convert_record(
    rec: Any, where: str, source: str = "", *, reader: str | None = None, answers: str = "inline"
) -> Theorem:
    """One row to a `Theorem` by ``reader`` (`BenchmarkInfo.reader`); without one, by the row's fields:
    ``lean4_file`` is a PutnamBench row, ``autoformalization`` a FormalMATH row, else `theorem_from_record`.
    A statement that does not scan to one complete declaration is flagged ``known_issue`` (`statement_problem`)."""
    if reader is None and isinstance(rec, dict) and "formal_statement" not in rec:
        reader = "putnambench" if "lean4_file" in rec else "formalmath" if "autoformalization" in rec else None
    if reader == "putnambench":
        from data import putnambench

        t = replace(putnambench.theorem_from_row(rec, where, answers), source=source or where)
    elif reader == "formalmath":
        from data import formalmath

        t = replace(formalmath.theorem_from_row(rec, where), source=source or where)
    else:
        t = theorem_from_record(rec, where, source)
    problem = statement_problem(t)
    if problem:
        known = t.meta.get("known_issue")
        t.meta["known_issue"] = f"{known}; {problem}" if known else problem
        t.meta["statement_problem"] = problem
    return t


_UNCLOSED = {"(": ")", "[": "]", "{": "}", "⦃": "⦄", "⟨": "⟩", "@[": "]"}


def statement_problem(t: Theorem) -> str | None:
    """Why ``header + statement + " sorry"`` is not one complete declaration proved by that ``sorry`` (as the
    project's scanner reads it), or None. Catches statements cut off in the data (an unclosed bracket, no
    ``:=``), unterminated comments/strings and statements holding several declarations."""
    text = t.header + t.statement + " sorry"
    src = scan(text)
    base = len(t.header)
    lines_before = t.header.count("\n")
    if src.problems:
        p = src.problems[0]
        return f"the statement does not scan: {p.message} (statement line {p.line - lines_before})"
    decls = [d for d in src.declarations if d.keyword >= base]
    if len(decls) != 1:
        return f"the statement holds {len(decls)} declarations, not 1"
    d = decls[0]
    if d.delimiter != ":=" or d.proof is None:
        why = "no `:=` ends it"
        stack = []
        for tok in src.code[d.tokens[0] : d.tokens[1] + 1]:
            if tok.text in _UNCLOSED:
                stack.append(tok)
            elif stack and tok.text == _UNCLOSED[stack[-1].text]:
                stack.pop()
        if stack:
            why += f"; `{stack[-1].text}` at statement line {stack[-1].line - lines_before} is never closed"
        return f"the statement is cut off: {why}"
    proof = text[d.proof[0] : d.proof[1]].split()
    if proof not in (["sorry"], ["by", "sorry"]):
        return f"the statement does not end at its `:=`: `{' '.join(proof)[:60]}` follows it"
    return None


def read_jsonl(
    path: Path | str, *, source: str | None = None, reader: str | None = None, answers: str = "inline"
) -> list[Theorem]:
    """All rows of a benchmark-style JSONL file (blank lines skipped), each read by `convert_record`.

    Keys must be unique: a repeated ``name`` is resolved by ``proofnet_id``/``id`` when the rows have one
    (the DeepSeek ProofNet file repeats names across books), else it is an error naming both lines.
    """
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such file")
    out: list[Theorem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise BenchmarkError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{i}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise BenchmarkError(f"{where}: invalid JSON ({e.msg}, column {e.colno})") from e
        split = rec.get("split") if isinstance(rec, dict) else None
        src = source or (f"{path.name}:{split}" if split else path.name)
        out.append(convert_record(rec, where, src, reader=reader, answers=answers))
    return _unique_keys(out)


def _unique_keys(theorems: list[Theorem]) -> list[Theorem]:
    seen: dict[str, Theorem] = {}
    dup_names = {t.name for t in theorems if sum(1 for u in theorems if u.name == t.name) > 1} if theorems else set()
    for t in theorems:
        if t.name in dup_names:
            alt = t.meta.get("proofnet_id") or t.meta.get("id")
            if alt:
                t.meta["key"] = str(alt)
        key = t.meta["key"]
        if key in seen:
            raise BenchmarkError(f"{t.meta['origin']}: duplicate theorem {key!r} (first at {seen[key].meta['origin']})")
        seen[key] = t
    return theorems


# ---------------------------------------------------------------------------------------------------
# .lean files

_SORRY_PROOFS = (("sorry",), ("by", "sorry"))
_SORRY_KINDS = ("theorem", "lemma", "example", "instance", "def", "abbrev")


def parse_lean(text: str, path: str = "<input>") -> list[Theorem]:
    """The ``sorry``-proved declarations of a Lean file, each with the commands before it as its header.

    A declaration is a ``theorem``/``lemma``/``example``/``instance``/``def``/``abbrev`` whose body is
    ``sorry`` (``:= sorry`` or ``:= by sorry``), as `prover.lean.syntax` reads the file. Its header is the
    file's text before it minus the other sorry'd declarations (so imports, options, ``open``s, namespaces
    and proved helper lemmas come along). Statements keep ``:= by`` / ``:=`` and start at the keyword (a
    doc comment or attributes before it are dropped; ``open … in`` prefixes are kept).
    """
    src = scan(text)
    out: list[Theorem] = []
    removed: list[tuple[int, int]] = []  # spans of the sorry'd declarations seen so far
    n_example = 0
    for d in src.declarations:
        if d.kind not in _SORRY_KINDS or d.delimiter != ":=" or d.delimiter_span is None:
            continue
        first, last = d.tokens
        k = next(i for i in range(first, last + 1) if src.code[i].start == d.delimiter_span[0])
        proof = tuple(t.text for t in src.code[k + 1 : last + 1])
        if proof not in _SORRY_PROOFS:
            continue
        name = d.name
        if d.kind == "example" or not name:
            n_example += 1
            name = f"{Path(path).stem}_example_{n_example}"
        # `open X in` / `set_option o v in` prefixes stay with the statement
        prefix = text[d.outer_start : d.start]
        stmt = prefix + text[d.keyword : d.delimiter_span[1]] + (" by" if proof[0] == "by" else "")
        header, done = [], 0
        for a, b in [*removed, (d.outer_start, d.outer_start)]:
            header.append(text[done:a])
            done = b
        removed.append((d.outer_start, d.end))
        where = f"{path}:{src.line_col(d.keyword)[0]}"
        meta = {"split": "", "known_issue": None, "key": name, "origin": where, "kind": d.kind}
        out.append(Theorem(name=name, statement=stmt, header="".join(header), source=where, meta=meta))
    return out


def load_lean_dir(path: Path | str) -> list[Theorem]:
    """Every sorry'd declaration of every ``.lean`` file under ``path`` (or of one ``.lean`` file), in
    path order; names must be unique across files."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*.lean") if ".lake" not in p.parts)
    else:
        raise BenchmarkError(f"{path}: no such file or directory")
    if not files:
        raise BenchmarkError(f"{path}: no .lean files")
    out: list[Theorem] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise BenchmarkError(f"{f}: not UTF-8 text") from e
        out.extend(parse_lean(text, str(f)))
    if not out:
        raise BenchmarkError(f"{path}: no theorem with a `sorry` proof found in {len(files)} .lean file(s)")
    return _unique_keys(out)


# ---------------------------------------------------------------------------------------------------
# Named benchmarks


def unknown_benchmark_message(name: str) -> str:
    """The one error for a benchmark name that is neither registered nor a file (``prove`` and ``batch``):
    the registered names (`BENCHMARKS`, not every JSONL stem of the directory) and the closest of them."""
    close = difflib.get_close_matches(name, list(BENCHMARKS), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"unknown benchmark {name!r}: expected one of {', '.join(BENCHMARKS)}, a .jsonl file or a directory "
        f"of .lean files{hint}"
    )


def benchmark_file(name: str, split: str, benchmark_dir: Path | str) -> Path:
    """The file of a benchmark's split: the registered name (`BenchmarkInfo.files`), else ``{name}_{split}.jsonl``."""
    info = REGISTRY.get(name)
    if info is not None and split in info.files:
        return Path(benchmark_dir) / info.files[split]
    return Path(benchmark_dir) / f"{name}_{split}.jsonl"


def benchmark_files(name: str, split: str | None, benchmark_dir: Path | str) -> list[Path]:
    """JSONL files of a benchmark named by file stem in ``benchmark_dir`` (registered or not):
    ``<dir>/<name>.jsonl`` (a stem such as ``minif2f_test``; when no ``split`` is asked for), else
    ``<dir>/<name>_<split>.jsonl`` for ``split`` or each of valid/test that exists."""
    d = Path(benchmark_dir)
    whole = d / f"{name}.jsonl"
    if whole.is_file() and split is None:
        return [whole]
    splits = [split] if split else list(SPLITS)
    files = [benchmark_file(name, s, d) for s in splits]
    found = [f for f in files if f.is_file()]
    if not found:
        want = " or ".join(str(f.name) for f in files)
        if whole.is_file():  # `<name>.jsonl` exists but a split was asked for
            raise BenchmarkError(f"benchmark {name!r}: {whole.name} is one file with no split suffix; drop --split")
        where = f"no {want} in {d}" + ("" if d.is_dir() else ", which does not exist: set PROVER_BENCHMARK_DIR")
        raise BenchmarkError(f"{unknown_benchmark_message(name)} ({where})")
    return found


def load_benchmark_files(name: str, split: str | None, benchmark_dir: Path | str) -> list[Theorem]:
    """The rows of `benchmark_files`, each file read by `read_jsonl` with source ``bench:split`` (from the
    file name, e.g. ``minif2f_test.jsonl`` -> ``minif2f:test``). Keys are unique per file, not across files."""
    out: list[Theorem] = []
    for f in benchmark_files(name, split, benchmark_dir):
        stem = f.stem
        tail = stem.rsplit("_", 1)[1] if "_" in stem else ""
        sp = tail if tail in SPLITS else (split or "")
        bench = stem[: -len(sp) - 1] if sp and stem.endswith("_" + sp) else stem
        out.extend(read_jsonl(f, source=f"{bench}:{sp}" if sp else bench))
    return out


def load_benchmark(
    name: str, split: str | None, benchmark_dir: Path | str, *, answers: str = "inline"
) -> list[Theorem]:
    """A named benchmark (`BENCHMARKS`) at one split, or all its splits when ``split`` is None/"all".

    ``answers``: how PutnamBench's answer placeholders are handled (`data.putnambench.ANSWER_MODES`)."""
    if name not in BENCHMARKS:
        raise BenchmarkError(unknown_benchmark_message(name))
    splits = BENCHMARKS[name]
    if split in (None, "", "all"):
        chosen = list(splits)
    elif split not in splits:
        raise BenchmarkError(f"unknown split {split!r} of {name}: expected one of {', '.join(splits)} or all")
    else:
        chosen = [split]
    out: list[Theorem] = []
    for s in chosen:
        f = benchmark_file(name, s, benchmark_dir)
        if not f.is_file():
            hint = (
                f"run `prover data download {name}`"
                if name in DOWNLOADABLE
                else f"copy {f.name} there from the upstream release"
            )
            raise BenchmarkError(f"{f}: not found; {hint}, or set PROVER_BENCHMARK_DIR / batch.benchmark_dir")
        info = REGISTRY[name]
        out.extend(read_jsonl(f, source=f"{name}:{s}", reader=info.reader, answers=answers))
    for t in out:
        t.meta["benchmark"] = name
        t.meta.setdefault("lean_toolchain", REGISTRY[name].lean_toolchain)
    corrects = REGISTRY[name].corrects
    if corrects and any("corrected" not in t.meta for t in out):
        _flag_corrections(out, corrects, benchmark_dir)
    return _unique_keys(out)


def _flag_corrections(theorems: list[Theorem], original: str, benchmark_dir: Path | str) -> None:
    """``meta["corrected"]`` of a corrected variant's rows: why the row differs from ``original`` (whose files
    must be in ``benchmark_dir``; without them nothing is flagged). Rows that carry their own reason keep it."""
    base: dict[tuple[str, str], Theorem] = {}
    for split in REGISTRY[original].files:
        f = benchmark_file(original, split, benchmark_dir)
        if f.is_file():
            for t in read_jsonl(f):
                base[(split, t.name)] = t
    if not base:
        return
    for t in theorems:
        if "corrected" in t.meta:
            continue
        b = base.get((t.meta.get("split") or "", t.name))
        if b is None or " ".join(b.statement.split()) == " ".join(t.statement.split()):
            t.meta["corrected"] = None
            continue
        why = f"; {original} flags it: {b.meta['known_issue']}" if b.meta.get("known_issue") else ""
        t.meta["corrected"] = f"statement corrected from {original}'s{why}"


def load_theorems(
    spec: str, split: str | None = None, benchmark_dir: Path | str | None = None, *, answers: str = "inline"
) -> list[Theorem]:
    """``spec`` is a benchmark name, a ``.jsonl`` file, a ``.lean`` file or a directory of ``.lean`` files.

    ``answers``: PutnamBench answer placeholders, ``inline`` (default) or ``free`` (`data.putnambench`)."""
    from data.config import default_benchmark_dir

    if spec in BENCHMARKS:
        return load_benchmark(spec, split, benchmark_dir or default_benchmark_dir(), answers=answers)
    p = Path(spec)
    if p.suffix == ".jsonl" or (p.is_file() and p.suffix != ".lean"):
        ts = read_jsonl(p, answers=answers)
        if split not in (None, "", "all"):
            ts = [t for t in ts if t.meta.get("split") == split]
            if not ts:
                raise BenchmarkError(f"{p}: no theorem with split {split!r}")
        return ts
    if p.exists():
        return load_lean_dir(p)
    raise BenchmarkError(unknown_benchmark_message(spec))


_VERSION_RE = re.compile(r"v?(\d+\.\d+\.\d+(?:-rc\d+)?)")


def lean_version(toolchain: str | None) -> str | None:
    """``leanprover/lean4:v4.9.0-rc1 (DeepSeek fork)`` → ``4.9.0-rc1``."""
    m = _VERSION_RE.search(toolchain or "")
    return m.group(1) if m else None


def lean_version_warning(theorems: Sequence[Theorem], project_toolchain: str | None, what: str = "") -> str | None:
    """One line when the Lean version the statements were checked with (``meta["lean_toolchain"]``, set from
    the registry or the row) differs from the Lean project's toolchain, saying how to get a matching one;
    None when they agree or either is unknown."""
    project = lean_version(project_toolchain)
    if project is None:
        return None
    found: dict[str, list[Theorem]] = {}
    for t in theorems:
        v = lean_version(t.meta.get("lean_toolchain"))
        if v and v != project:
            found.setdefault(v, []).append(t)
    if not found:
        return None
    version, ts = max(found.items(), key=lambda kv: len(kv[1]))
    bench = ts[0].meta.get("benchmark") or what or "the benchmark"
    info = REGISTRY.get(str(bench))
    mathlib = f" and Mathlib {info.mathlib}" if info is not None and info.mathlib else ""
    share = "" if len(ts) == len(theorems) else f" ({len(ts)} of {len(theorems)} theorems)"
    return (
        f"{bench}'s statements were checked with Lean {version}{mathlib}{share}, but the Lean project uses Lean "
        f"{project}: some may not elaborate or may mean something else (renamed lemmas, changed notation). For a "
        f"matching project, set leanprover/lean4:v{version} in lean_project/lean-toolchain and the mathlib and "
        "REPL revs in lean_project/lakefile.toml to the same tag, delete lean_project/lake-manifest.json and rerun "
        "scripts/setup_lean.sh (or point --lean-project at a project on that version)"
    )


def benchmark_run_info(spec: str, theorems: Sequence[Theorem], answers: str = "inline") -> dict[str, Any]:
    """What a batch run records about its benchmark (for the report): where it comes from, the Lean version
    of its statements, the upstream total the field reports against, and for PutnamBench the answer mode and
    the problems whose answer could not be inlined."""
    out: dict[str, Any] = {}
    info = REGISTRY.get(spec)
    if info is not None:
        out["benchmark_info"] = {
            "source": info.source,
            "license": info.license,
            "lean_toolchain": info.lean_toolchain,
            "mathlib": info.mathlib,
            "total": info.total,
            "corrects": info.corrects,
        }
    corrected = [
        {"key": t.meta.get("key", t.name), "name": t.name, "reason": t.meta["corrected"]}
        for t in theorems
        if t.meta.get("corrected")
    ]
    if corrected:
        out["corrected"] = corrected
    if any(t.meta.get("answer_placeholders") for t in theorems):
        out["answers"] = answers
        out["answer_problems"] = [
            {"name": t.name, "reason": "; ".join(t.meta["answer_problems"])}
            for t in theorems
            if t.meta.get("answer_problems")
        ]
    return out


# ---------------------------------------------------------------------------------------------------
# Choosing theorems


@dataclass
class Selection:
    theorems: list[Theorem]  # to run
    skipped_known: list[Theorem] = field(default_factory=list)  # known_issue, left out (mode "skip")

    @property
    def marked_known(self) -> list[Theorem]:
        return [t for t in self.theorems if t.meta.get("known_issue")]


def read_name_list(path: Path | str) -> list[str]:
    """One theorem name per line; blank lines and ``#`` comments ignored."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such file (the list of theorem names)")
    names: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def _matches(name: str, key: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], name) is not None or re.search(pattern[3:], key) is not None
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(key, pattern)


def select(
    theorems: Sequence[Theorem],
    *,
    split: str | None = None,
    patterns: Iterable[str] = (),
    names_file: Path | str | None = None,
    limit: int | None = None,
    known_issues: str = "mark",
) -> Selection:
    """Filter by split, name patterns (shell globs, or ``re:REGEX``; any may match), a file of names, then
    take the first ``limit``. ``known_issues``: ``mark`` keeps flagged statements (reported apart),
    ``skip`` leaves them out (listed in ``skipped_known``), ``include`` ignores the flag."""
    if known_issues not in ("mark", "skip", "include"):
        raise BenchmarkError(f"known_issues must be mark, skip or include, not {known_issues!r}")
    ts = list(theorems)
    if split not in (None, "", "all"):
        ts = [t for t in ts if t.meta.get("split") in (split, "")]
    patterns = list(patterns)
    if patterns:
        for p in patterns:
            if p.startswith("re:"):
                try:
                    re.compile(p[3:])
                except re.error as e:
                    raise BenchmarkError(f"bad name pattern {p!r}: {e}") from e
        ts = [t for t in ts if any(_matches(t.name, t.meta.get("key", t.name), p) for p in patterns)]
    if names_file is not None:
        wanted = read_name_list(names_file)
        index = {t.meta.get("key", t.name): t for t in ts} | {t.name: t for t in ts}
        unknown = [n for n in wanted if n not in index]
        if unknown:
            more = f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""
            raise BenchmarkError(f"{names_file}: unknown theorem(s) {', '.join(unknown[:5])}{more}")
        keep = {id(index[n]) for n in wanted}
        ts = [t for t in ts if id(t) in keep]
    skipped: list[Theorem] = []
    if known_issues == "skip":
        skipped = [t for t in ts if t.meta.get("known_issue")]
        ts = [t for t in ts if not t.meta.get("known_issue")]
    elif known_issues == "include":
        for t in ts:
            t.meta["known_issue_ignored"] = t.meta.get("known_issue")
    if limit is not None:
        if limit < 0:
            raise BenchmarkError(f"--limit must be >= 0, not {limit}")
        ts = ts[:limit]
    return Selection(ts, skipped)


def subjects_of(theorem: Theorem) -> list[str]:
    """A theorem's subjects: the row's own (``meta["subjects"]``: PutnamBench tags, FormalMATH domains as
    ``Top/…/Leaf`` paths), else the miniF2F subject by name prefix, the ProofNet book, or ``other``."""
    own = theorem.meta.get("subjects")
    if isinstance(own, list) and own and all(isinstance(x, str) for x in own):
        return list(own)
    pid = theorem.meta.get("proofnet_id")
    if isinstance(pid, str) and "|" in pid:
        return [pid.split("|", 1)[0]]
    name = theorem.name
    if "_exercise_" in name:
        return [name.split("_exercise_", 1)[0].replace("_", "-")]
    for prefix in MINIF2F_SUBJECTS:
        if name.startswith(prefix):
            return [prefix]
    return ["other"]


def subject_of(theorem: Theorem) -> str:
    """The subject text a run stores for a theorem: its one subject, or its subjects as a JSON list
    (`decode_subjects` reads either)."""
    subs = subjects_of(theorem)
    return subs[0] if len(subs) == 1 else json.dumps(subs, ensure_ascii=False)


def decode_subjects(text: str | None) -> list[str]:
    """What `subject_of` stored (or an older run's plain subject) as a list."""
    if not text:
        return ["other"]
    if text.startswith("["):
        try:
            v = json.loads(text)
        except json.JSONDecodeError:
            return [text]
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return v
    return [text]
