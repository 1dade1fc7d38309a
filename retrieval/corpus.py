"""The premise corpus: declarations of a Lean library, the file import graph, and accessibility.

Sources (several may be combined into one corpus):

* a Lean source tree (a library checkout: ``Mathlib/...``; its ``.lake/packages/*`` are added as further roots);
* a source archive ``*.tar.zst`` / ``*.tar.gz`` / ``*.tar`` (unpacked once into the cache directory);
* LeanDojo's traced ``corpus.jsonl`` (one line per file: ``path``, ``imports`` as paths, ``premises``).

A premise is *accessible* to a theorem when it is declared in a file that the theorem's file imports
(transitively, through the ``networkx`` import graph), or earlier in the theorem's own file; ``private``
declarations are accessible in their own file only. The corpus is built once and saved as ``corpus.json``
(text columns) + ``corpus.npz`` (numeric columns), which load in a second or two.

For declarations whose body was scanned, ``uses(i)`` lists the accessible corpus premises its proof text names
(resolved through namespaces, ``open``, the declaration's own namespace and ``protected``); for theorems with
tactic proofs these are the gold premises of the retrieval benchmark.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from prover.errors import UserError
from prover.lean.types import Theorem
from retrieval.base import Premise
from retrieval.generated import generated_declarations
from retrieval.lean_source import (
    AttributeCommand,
    Declaration,
    Export,
    LeanFile,
    module_of_path,
    parse_imports,
    parse_lean_source,
    statement_without_name,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 5  # 4: generated names (to_additive, fields, constructors), alias statements; 5: the scanner
# of ac98e94 (`WORD%` commands end a declaration; compfiles' `problem`/`determine` are declarations)
CORPUS_JSON = "corpus.json"
CORPUS_NPZ = "corpus.npz"
DEFAULT_EXCLUDE = ("test", "tests", "scripts", ".lake", "lake-packages", ".git", "lakefile.lean", "build")


def default_cache_dir() -> Path:
    env = os.environ.get("PROVER_CACHE_DIR")
    if env:
        return Path(env) / "retrieval"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lean-prover" / "retrieval"


@dataclass(slots=True)
class CorpusFile:
    path: str  # relative to its root, e.g. Mathlib/Algebra/Group/Basic.lean
    module: str  # Mathlib.Algebra.Group.Basic
    imports: list[str]  # module names as written in the header
    root: str = ""  # which source it came from


# ---------------------------------------------------------------------------------------------------
# Reading sources


def unpack_archive(archive: Path, cache_dir: Path | None = None) -> Path:
    """Unpack ``archive`` (tar.zst / tar.gz / tar) once into the cache; return the library root inside it."""
    archive = Path(archive)
    st = archive.stat()
    key = hashlib.sha1(f"{archive.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    name = archive.name.split(".tar")[0]
    dest = Path(cache_dir or default_cache_dir()) / "unpacked" / f"{name}-{key}"
    done = dest / ".complete"
    if not done.exists():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        log.info("unpacking %s into %s", archive, dest)
        unreadable: tuple[type[Exception], ...] = (tarfile.TarError, EOFError)
        try:
            if archive.name.endswith((".zst", ".zstd")):
                import zstandard

                unreadable += (zstandard.ZstdError,)
                with open(archive, "rb") as fh:
                    reader = zstandard.ZstdDecompressor().stream_reader(fh)
                    with tarfile.open(fileobj=reader, mode="r|") as tf:
                        tf.extractall(tmp, filter="data")
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
        except unreadable as e:
            shutil.rmtree(tmp, ignore_errors=True)
            why = " ".join(str(e).split())
            raise UserError(
                f"{archive}: not a readable .tar / .tar.zst archive ({why}); give a Lean source directory, "
                "an archive of one, or a LeanDojo corpus.jsonl"
            ) from e
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        done.touch()
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


# Lean core's libraries worth indexing: Init (Nat, List, Eq, congrArg, ...) and Std; Lean/ and Lake/ (the
# compiler and build tool, ~2,000 files) are metaprogramming that proofs do not cite.
CORE_LIBRARIES = ("Init", "Std")
_PACKAGE_MARKERS = ("lakefile.lean", "lakefile.toml", "lean-toolchain", "lake-manifest.json")


def library_roots(root: Path) -> list[Path] | None:
    """The library entries of a Lake package: each top-level ``X.lean`` and its ``X/`` folder (Mathlib.lean +
    Mathlib/, Archive.lean + Archive/; not MathlibTest/, scripts/, ...); for Lean core's ``src/lean``, only
    `CORE_LIBRARIES`. ``None`` for a plain tree (scan everything but `DEFAULT_EXCLUDE`)."""
    if (root / "Init" / "Prelude.lean").is_file():
        names = [n for n in CORE_LIBRARIES if (root / f"{n}.lean").is_file() or (root / n).is_dir()]
    elif any((root / m).is_file() for m in _PACKAGE_MARKERS):
        names = sorted(f.name[:-5] for f in root.glob("*.lean") if f.is_file() and not f.name.startswith("lakefile"))
    else:
        return None
    out: list[Path] = []
    for n in names:
        for p in (root / f"{n}.lean", root / n):
            if p.exists():
                out.append(p)
    return out or None


def _lean_files(root: Path, exclude: Sequence[str]) -> list[Path]:
    libs = library_roots(root)
    if libs is None:
        return _walk_lean_files(root, exclude)
    out: list[Path] = []
    for lib in libs:
        out.extend([lib] if lib.is_file() else _walk_lean_files(lib, exclude))
    return out


def _walk_lean_files(root: Path, exclude: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    excl = set(exclude)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in excl and not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith(".lean") and f not in excl:
                out.append(Path(dirpath) / f)
    return out


def _source_roots(source: Path, cache_dir: Path | None, include_packages: bool) -> list[Path]:
    if source.is_file():
        return [unpack_archive(source, cache_dir)]
    roots = [source]
    if include_packages:
        for pk in (source / ".lake" / "packages", source / "lake-packages"):
            if pk.is_dir():
                roots.extend(sorted(p for p in pk.iterdir() if p.is_dir()))
    return roots


def _fingerprint(sources: Sequence[Path], exclude: Sequence[str]) -> str:
    h = hashlib.sha1(f"v{FORMAT_VERSION}:{sorted(exclude)}".encode())
    for s in sources:
        s = Path(s).resolve()
        if s.is_file():
            st = s.stat()
            h.update(f"{s}:{st.st_size}:{int(st.st_mtime)}".encode())
        else:
            h.update(str(s).encode())
            for f in _lean_files(s, exclude):
                st = f.stat()
                h.update(f"{f.relative_to(s)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _parse_one(args: tuple[str, str]) -> tuple[str, LeanFile]:
    path, rel = args
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return rel, parse_lean_source(text, module_of_path(rel), rel)


# ---------------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    """Premises (grouped by file, in source order), files, import graph, accessibility, proof references."""

    def __init__(
        self,
        files: list[CorpusFile],
        premises: list[Premise],
        premise_file: np.ndarray,
        private: np.ndarray,
        protected: np.ndarray,
        tactic_proof: np.ndarray,
        uses_indptr: np.ndarray,
        uses_indices: np.ndarray,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.files = files
        self.premises = premises
        self.premise_file = premise_file.astype(np.int32)
        self.premise_line = np.fromiter((p.line for p in premises), dtype=np.int32, count=len(premises))
        self.private = private.astype(bool)
        self.protected = protected.astype(bool)
        self.tactic_proof = tactic_proof.astype(bool)
        self.uses_indptr = uses_indptr.astype(np.int64)
        self.uses_indices = uses_indices.astype(np.int32)
        self.meta = dict(meta or {})
        self.module_index = {f.module: i for i, f in enumerate(files)}
        self.path_index = {f.path: i for i, f in enumerate(files)}
        self._name_index: dict[str, list[int]] | None = None
        self._prior: np.ndarray | None = None
        self.graph = self._build_graph()
        self.reach = self._closure()

    # -- basic ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.premises)

    @property
    def name_index(self) -> dict[str, list[int]]:
        if self._name_index is None:
            idx: dict[str, list[int]] = {}
            for i, p in enumerate(self.premises):
                idx.setdefault(p.full_name, []).append(i)
            self._name_index = idx
        return self._name_index

    def get(self, full_name: str) -> Premise | None:
        ids = self.name_index.get(full_name)
        return self.premises[ids[0]] if ids else None

    @property
    def prior(self) -> np.ndarray:
        """The premise-usage prior feature, ``log(1 + number of corpus proofs naming the premise)``."""
        if self._prior is None:
            from retrieval.prior import prior_feature, usage_counts

            self._prior = prior_feature(usage_counts(self))
        return self._prior

    def uses(self, i: int) -> np.ndarray:
        """Indices of the accessible corpus premises that declaration ``i``'s proof text names."""
        return self.uses_indices[self.uses_indptr[i] : self.uses_indptr[i + 1]]

    def file_of(self, i: int) -> CorpusFile:
        return self.files[int(self.premise_file[i])]

    # -- import graph -----------------------------------------------------------------------------------

    def _build_graph(self) -> nx.DiGraph:
        """Edges go from a module to each module it imports; modules outside the corpus are ``external``."""
        g = nx.DiGraph()
        for i, f in enumerate(self.files):
            g.add_node(f.module, file=i, external=False)
        for f in self.files:
            for imp in f.imports:
                if imp not in g:
                    g.add_node(imp, file=-1, external=True)
                g.add_edge(f.module, imp)
        return g

    def _closure(self) -> np.ndarray:
        """``reach[a, b]``: file ``a`` imports file ``b`` transitively (``a != b``)."""
        n = len(self.files)
        reach = np.zeros((n, n), dtype=bool)
        sub = self.graph.subgraph(f.module for f in self.files)
        try:
            order = list(reversed(list(nx.topological_sort(sub))))  # imported modules first
        except nx.NetworkXUnfeasible:
            log.warning("import graph has a cycle; using per-module descendants")
            for m in sub.nodes:
                a = self.module_index[m]
                for d in nx.descendants(sub, m):
                    reach[a, self.module_index[d]] = True
            return reach
        for m in order:
            a = self.module_index[m]
            for imp in sub.successors(m):
                b = self.module_index[imp]
                reach[a] |= reach[b]
                reach[a, b] = True
        return reach

    def imported_files(self, module: str) -> set[str]:
        """Paths of the corpus files ``module`` imports, transitively."""
        i = self.module_index[module]
        return {self.files[j].path for j in np.flatnonzero(self.reach[i])}

    # -- accessibility ----------------------------------------------------------------------------------

    def resolve_modules(self, modules: Iterable[str]) -> list[int]:
        """Corpus file indices of ``modules``; a module with no file of its own (``import Mathlib`` against a
        corpus without ``Mathlib.lean``) stands for every corpus module under it."""
        out: list[int] = []
        for mod in modules:
            if mod in self.module_index:
                out.append(self.module_index[mod])
            else:
                pre = mod + "."
                out.extend(i for i, f in enumerate(self.files) if f.module.startswith(pre))
        return out

    def file_mask(self, file_idx: Sequence[int]) -> np.ndarray:
        """Files visible from a header importing ``file_idx``: those files and everything they import."""
        fm = np.zeros(len(self.files), dtype=bool)
        for i in file_idx:
            fm |= self.reach[i]
            fm[i] = True
        return fm

    def accessible_from_file(self, file_idx: int, line: int | None = None) -> np.ndarray:
        """Premise mask for a theorem in corpus file ``file_idx`` at ``line`` (1-based; ``None``: end of file)."""
        fm = self.reach[file_idx]
        mask = fm[self.premise_file] & ~self.private
        same = self.premise_file == file_idx
        if line is None:
            mask |= same
        else:
            mask |= same & (self.premise_line < line)
        return mask

    def accessible_from_imports(self, modules: Iterable[str]) -> np.ndarray:
        fm = self.file_mask(self.resolve_modules(modules))
        return fm[self.premise_file] & ~self.private

    def locate(self, theorem: Theorem) -> tuple[int, int | None] | None:
        """``(file index, line)`` of a theorem that lives in a corpus file, from ``meta`` or ``source``."""
        meta = theorem.meta
        path = meta.get("file_path") or meta.get("path")
        line = meta.get("line")
        if line is None and isinstance(meta.get("start"), list | tuple):
            line = meta["start"][0]
        if path is None:
            src = theorem.source
            mm = re.match(r"^(.*?\.lean)(?::(\d+))?", src)
            if mm:
                path, line = mm.group(1), int(mm.group(2)) if mm.group(2) else line
        if not path:
            return None
        path = str(path).replace("\\", "/")
        fi = self.path_index.get(path)
        if fi is None:
            path = _strip_package_prefix(path)
            fi = self.path_index.get(path)
        if fi is None:
            for p, i in self.path_index.items():  # an absolute path of a checkout: match the tail
                if path.endswith("/" + p):
                    fi = i
                    break
        if fi is None:
            return None
        return fi, int(line) if line is not None else None

    def accessible_mask(self, theorem: Theorem | None) -> np.ndarray:
        """Premises ``theorem`` may use.

        * ``None``: every non-private premise (no context is known);
        * a theorem located in a corpus file (``meta["file_path"]``/``meta["line"]``, or ``source`` =
          ``path.lean:line``): its file's transitive imports plus what is declared above it in the file;
        * otherwise the corpus modules its ``header`` imports (every form: ``import``, ``public import``,
          ``meta import``, ``import all`` after ``module``) and all they import (``import Mathlib`` → Mathlib);
        * a header none of whose imports is in the corpus (or no header): every non-private premise, since
          nothing is known about what it sees; `fallback_reason` says why (the retrievers warn once per theorem).
        """
        if theorem is None:
            return ~self.private
        loc = self.locate(theorem)
        if loc is not None:
            return self.accessible_from_file(*loc)
        files = self.resolve_modules(self._header_imports(theorem))
        if not files:
            return ~self.private
        return self.file_mask(files)[self.premise_file] & ~self.private

    @staticmethod
    def _header_imports(theorem: Theorem) -> list[str]:
        return parse_imports(theorem.header) if theorem.header else []

    def fallback_reason(self, theorem: Theorem | None) -> str | None:
        """Why `accessible_mask` falls back to the whole corpus for ``theorem`` (its header imports nothing
        the corpus has), or ``None`` when it is located in a corpus file or its header imports a corpus module."""
        if theorem is None or self.locate(theorem) is not None:
            return None
        imports = self._header_imports(theorem)
        if self.resolve_modules(imports):
            return None
        path = theorem.meta.get("file_path") or theorem.meta.get("path")
        where = f"its file {path} is not in the corpus and " if path else ""
        if not imports:
            return f"{where}its header imports nothing"
        more = f" (+{len(imports) - 5} more)" if len(imports) > 5 else ""
        return f"{where}its header imports {', '.join(imports[:5])}{more}, none of it in the corpus"

    def close_paths(self, path: str, n: int = 3) -> list[str]:
        """Corpus file paths closest to ``path`` (for a did-you-mean hint)."""
        import difflib

        path = str(path).replace("\\", "/")
        paths = list(self.path_index)
        close = difflib.get_close_matches(path, paths, n=n, cutoff=0.8)
        if not close:  # compare file names when the directories differ
            name = path.rsplit("/", 1)[-1]
            by_name: dict[str, list[str]] = {}
            for p in paths:
                by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)
            for m in difflib.get_close_matches(name, list(by_name), n=n, cutoff=0.75):
                close.extend(by_name[m])
        return close[:n]

    # -- save / load ------------------------------------------------------------------------------------

    def save(self, out_dir: Path) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = {
            "format_version": FORMAT_VERSION,
            "meta": self.meta,
            "files": [[f.path, f.module, f.imports, f.root] for f in self.files],
            "full_name": [p.full_name for p in self.premises],
            "code": [p.code for p in self.premises],
            "kind": [p.kind for p in self.premises],
        }
        tmp = out_dir / (CORPUS_JSON + ".tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        np.savez(
            out_dir / "corpus.tmp.npz",
            premise_file=self.premise_file,
            premise_line=self.premise_line,
            private=self.private,
            protected=self.protected,
            tactic_proof=self.tactic_proof,
            uses_indptr=self.uses_indptr,
            uses_indices=self.uses_indices,
        )
        (out_dir / "corpus.tmp.npz").replace(out_dir / CORPUS_NPZ)
        tmp.replace(out_dir / CORPUS_JSON)

    @classmethod
    def load(cls, in_dir: Path) -> Corpus:
        in_dir = Path(in_dir)
        jf, nf = in_dir / CORPUS_JSON, in_dir / CORPUS_NPZ
        if not jf.is_file() or not nf.is_file():
            raise UserError(f"no corpus in {in_dir} (build one with `prover index build --source ... --out {in_dir}`)")
        try:
            doc = json.loads(jf.read_text(encoding="utf-8"))
            arr = np.load(nf)
        except (OSError, ValueError) as e:  # JSONDecodeError and a damaged .npz are ValueErrors
            raise UserError(f"corpus in {in_dir} is damaged ({e}); rebuild it with `prover index build`") from e
        if doc.get("format_version") != FORMAT_VERSION:
            raise UserError(f"corpus in {in_dir} has format {doc.get('format_version')}, expected {FORMAT_VERSION}; "
                            "rebuild it with `prover index build`")
        files = [CorpusFile(p, m, list(imps), r) for p, m, imps, r in doc["files"]]
        pf, pl = arr["premise_file"], arr["premise_line"]
        premises = [
            Premise(full_name=n, code=c, path=files[f].path, line=int(ln), kind=k)
            for n, c, k, f, ln in zip(doc["full_name"], doc["code"], doc["kind"], pf.tolist(), pl.tolist(), strict=True)
        ]
        return cls(
            files,
            premises,
            pf,
            arr["private"],
            arr["protected"],
            arr["tactic_proof"],
            arr["uses_indptr"],
            arr["uses_indices"],
            meta=doc.get("meta", {}),
        )

    # -- building ---------------------------------------------------------------------------------------

    @classmethod
    def from_declarations(
        cls,
        parsed: list[tuple[CorpusFile, list[Declaration]]],
        meta: dict[str, Any] | None = None,
        resolve: bool = True,
        progress: bool = False,
        exports: dict[str, list[Export]] | None = None,
    ) -> Corpus:
        """Assemble a corpus from scanned files, then resolve each declaration's proof references
        (``exports``: the ``export`` commands of each module, names proofs may use for other declarations)."""
        files: list[CorpusFile] = []
        premises: list[Premise] = []
        pfile: list[int] = []
        priv: list[bool] = []
        prot: list[bool] = []
        tac: list[bool] = []
        decls: list[Declaration] = []
        seen_modules: set[str] = set()
        for cf, ds in parsed:
            if cf.module in seen_modules:
                log.warning("module %s appears twice (%s); keeping the first", cf.module, cf.path)
                continue
            seen_modules.add(cf.module)
            fi = len(files)
            files.append(cf)
            for d in sorted(ds, key=lambda d: (d.line, d.column)):
                premises.append(Premise(d.full_name, d.code, cf.path, d.line, d.kind))
                pfile.append(fi)
                priv.append(d.private)
                prot.append(d.protected)
                tac.append(d.tactic_proof)
                decls.append(d)
        empty = np.zeros(len(premises) + 1, dtype=np.int64)
        corpus = cls(
            files,
            premises,
            np.asarray(pfile, dtype=np.int32),
            np.asarray(priv, dtype=bool),
            np.asarray(prot, dtype=bool),
            np.asarray(tac, dtype=bool),
            empty,
            np.zeros(0, dtype=np.int32),
            meta=meta,
        )
        if resolve:
            corpus._resolve_uses(decls, exports or {}, progress=progress)
        return corpus

    def _resolve_uses(self, decls: list[Declaration], exports: dict[str, list[Export]],
                      progress: bool = False) -> None:
        """Fill ``uses``; give each ``alias`` the statement of the declaration it names."""
        from tqdm import tqdm

        from retrieval.names import NameResolver

        resolver = NameResolver(self)
        for fi, f in enumerate(self.files):
            for e in exports.get(f.module, ()):
                resolver.add_export(fi, e)
        indptr = np.zeros(len(self.premises) + 1, dtype=np.int64)
        indices: list[int] = []
        file_ranges = np.searchsorted(self.premise_file, np.arange(len(self.files) + 1))
        bar = tqdm(total=len(self.premises), desc="resolving proof references", unit="decl", disable=not progress)
        for fi in range(len(self.files)):
            lo, hi = int(file_ranges[fi]), int(file_ranges[fi + 1])
            if lo == hi:
                continue
            resolver.set_file(fi)
            for i in range(lo, hi):
                d = decls[i]
                refs = resolver.resolve_body(i, d) if d.body else []
                if d.kind == "alias" and refs:
                    p, target = self.premises[i], self.premises[refs[0]]
                    self.premises[i] = replace(p, code=f"alias {p.full_name} {statement_without_name(target.code)}")
                indices.extend(refs)
                indptr[i + 1] = len(refs)
            bar.update(hi - lo)
        bar.close()
        self.uses_indptr = np.cumsum(indptr)
        self.uses_indices = np.asarray(indices, dtype=np.int32)

    @classmethod
    def from_lean_sources(
        cls,
        sources: Sequence[Path | str],
        cache_dir: Path | None = None,
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
        include_packages: bool = True,
        progress: bool = True,
        workers: int | None = None,
    ) -> Corpus:
        """Scan Lean source trees / archives (one library root each) into a corpus."""
        from tqdm import tqdm

        jobs: list[tuple[str, str, str]] = []
        roots_seen: list[str] = []
        for src in sources:
            src = Path(src)
            if not src.exists():
                raise UserError(f"corpus source not found: {src}")
            for root in _source_roots(src, cache_dir, include_packages):
                roots_seen.append(str(root))
                for f in _lean_files(root, exclude):
                    jobs.append((str(f), f.relative_to(root).as_posix(), str(root)))
        if not jobs:
            raise UserError(f"no .lean files found in {', '.join(str(s) for s in sources)}")
        t0 = time.perf_counter()
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        parsed: list[tuple[CorpusFile, list[Declaration]]] = []
        attribute_cmds: list[list[AttributeCommand]] = []
        exports: dict[str, list[Export]] = {}
        it: Iterable[tuple[str, LeanFile]]
        if workers > 1 and len(jobs) > 50:
            import multiprocessing as mp

            pool = mp.get_context("fork" if os.name == "posix" else "spawn").Pool(workers)
            it = pool.imap(_parse_one, [(p, r) for p, r, _ in jobs], chunksize=16)
        else:
            pool = None
            it = (_parse_one((p, r)) for p, r, _ in jobs)
        try:
            for (rel, lf), (_, _, root) in tqdm(
                zip(it, jobs, strict=True), total=len(jobs), desc="scanning Lean files", unit="file",
                disable=not progress,
            ):
                parsed.append((CorpusFile(rel, lf.module, lf.imports, root), lf.declarations))
                attribute_cmds.append(lf.attribute_commands)
                exports.setdefault(lf.module, lf.exports)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        # names the files generate (to_additive, fields, projections, constructors) join their declarations
        for (_, ds), gen in zip(parsed, generated_declarations(
                [(ds, cmds) for (_, ds), cmds in zip(parsed, attribute_cmds, strict=True)]), strict=True):
            ds.extend(gen)
        meta = {"sources": [str(s) for s in sources], "roots": roots_seen, "scan_seconds": time.perf_counter() - t0}
        return cls.from_declarations(parsed, meta=meta, progress=progress, exports=exports)

    @classmethod
    def from_leandojo(cls, corpus_jsonl: Path | str, progress: bool = True) -> Corpus:
        """Load LeanDojo's traced ``corpus.jsonl`` (no proof bodies, so ``uses`` is empty)."""
        from tqdm import tqdm

        parsed: list[tuple[CorpusFile, list[Declaration]]] = []
        path = Path(corpus_jsonl)
        with open(path, encoding="utf-8") as fh:
            for line in tqdm(fh, desc="reading corpus.jsonl", unit="file", disable=not progress):
                if not line.strip():
                    continue
                rec = json.loads(line)
                rel = _strip_package_prefix(rec["path"])
                imports = [module_of_path(_strip_package_prefix(p)) for p in rec.get("imports", [])]
                ds = []
                for p in rec.get("premises", []):
                    name = p["full_name"]
                    start = p.get("start") or [0, 0]
                    end = p.get("end") or start
                    ds.append(
                        Declaration(
                            full_name=name,
                            kind=str(p.get("kind", "theorem")),
                            code=str(p.get("code", "")),
                            line=int(start[0]),
                            column=int(start[1]) if len(start) > 1 else 0,
                            end_line=int(end[0]),
                            private=name.startswith("_private.") or "._private." in name,
                        )
                    )
                parsed.append((CorpusFile(rel, module_of_path(rel), imports, str(path)), ds))
        return cls.from_declarations(parsed, meta={"sources": [str(path)], "leandojo": True}, resolve=False)


def _strip_package_prefix(path: str) -> str:
    """``.lake/packages/batteries/Batteries/X.lean`` → ``Batteries/X.lean`` (LeanDojo's paths of dependencies)."""
    path = path.replace("\\", "/")
    for marker in (".lake/packages/", "lake-packages/"):
        k = path.find(marker)
        if k >= 0:
            rest = path[k + len(marker) :]
            rest = rest.split("/", 1)[1] if "/" in rest else rest
            return rest[len("src/lean/") :] if rest.startswith("src/lean/") else rest  # the lean4 core package
    return path


def build_corpus(
    sources: Sequence[Path | str],
    cache_dir: Path | None = None,
    out_dir: Path | None = None,
    rebuild: bool = False,
    progress: bool = True,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
) -> Corpus:
    """Build (or load from the cache) the corpus of ``sources``.

    Lean trees and archives are scanned; a ``corpus.jsonl`` is read as LeanDojo data. The result is saved in
    ``out_dir`` if given, else in ``cache_dir/corpus-<fingerprint>/`` and reused while the sources are unchanged.
    """
    sources = [Path(s) for s in sources]
    if not sources:
        raise UserError("no corpus source given")
    fp = _fingerprint(sources, exclude)
    target = Path(out_dir) if out_dir else Path(cache_dir or default_cache_dir()) / f"corpus-{fp}"
    if not rebuild and (target / CORPUS_JSON).is_file():
        try:
            c = Corpus.load(target)
            if c.meta.get("fingerprint") == fp:
                return c
        except UserError:
            pass
    t0 = time.perf_counter()
    jsonl = [s for s in sources if s.suffix == ".jsonl"]
    lean = [s for s in sources if s.suffix != ".jsonl"]
    if jsonl and lean:
        raise UserError("combine either LeanDojo corpus.jsonl files or Lean sources, not both")
    if jsonl:
        if len(jsonl) > 1:
            raise UserError("one LeanDojo corpus.jsonl at a time")
        corpus = Corpus.from_leandojo(jsonl[0], progress=progress)
    else:
        corpus = Corpus.from_lean_sources(lean, cache_dir=cache_dir, exclude=exclude, progress=progress)
    corpus.meta["fingerprint"] = fp
    corpus.meta["build_seconds"] = time.perf_counter() - t0
    corpus.meta["num_premises"] = len(corpus)
    corpus.meta["num_files"] = len(corpus.files)
    corpus.save(target)
    return corpus
