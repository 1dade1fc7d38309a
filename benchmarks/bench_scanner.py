"""The Lean scanner (`prover/lean/syntax.py`) over the shared source corpus, this checkout beside a baseline
revision of the same file (read from git), in one run:

    python benchmarks/bench_scanner.py [--baseline REV] [--corpus mathlib4 ...] [--every N]

Each ``*.tar.zst`` archive in ``$PROVER_SHARED_DIR/corpus/`` is read in memory (nothing is unpacked). Two
workloads per file, each on a fresh ``scan``: ``declarations`` (what the retrieval corpus reader and the data
loaders ask for: declarations with their names, spans and scopes) and ``tokens`` (every token, what the
soundness gate screens; also masks). CPU seconds (``time.process_time``), then baseline / this as a ratio;
with ``--repeat N`` the two scanners alternate N times and the fastest pass of each counts (the machine is
shared, so load drifts between passes).
The two scanners' declarations are also compared (counts of files and declarations that differ).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prover.lean import syntax  # noqa: E402


def read_archive(path: Path, every: int) -> list[str]:
    """The ``.lean`` files of a ``.tar.zst`` archive (every ``every``-th one, in archive order)."""
    import zstandard

    texts: list[str] = []
    k = 0
    with path.open("rb") as fh, tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(fh), mode="r|") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".lean")):
                continue
            k += 1
            if (k - 1) % every:
                continue
            data = tar.extractfile(member)
            if data is not None:
                texts.append(data.read().decode("utf-8", errors="replace"))
    return texts


def baseline_module(rev: str) -> ModuleType:
    """``prover/lean/syntax.py`` as of git revision ``rev``, imported under another name."""
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:prover/lean/syntax.py"], check=True, capture_output=True, text=True
    ).stdout
    tmp = Path(tempfile.mkdtemp()) / "syntax_baseline.py"
    tmp.write_text(src)
    spec = importlib.util.spec_from_file_location("syntax_baseline", tmp)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["syntax_baseline"] = mod
    spec.loader.exec_module(mod)
    return mod


def timed(fn, texts: list[str]) -> tuple[float, list]:  # type: ignore[no-untyped-def]
    t0 = time.process_time()
    out = [fn(t) for t in texts]
    return time.process_time() - t0, out


def decl_item(d) -> tuple:  # type: ignore[no-untyped-def]
    """(which declaration, where its parts are)."""
    return (d.kind, d.full_name, d.start), (d.keyword, d.statement_end, d.delimiter, d.proof, d.end)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="df67105", help="git revision of the scanner to compare with")
    ap.add_argument("--corpus", nargs="*", default=[], help="archive name prefixes (default: all)")
    ap.add_argument("--every", type=int, default=1, help="scan every N-th file only")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the scanners N times, keep the fastest")
    args = ap.parse_args()
    shared = Path(os.environ.get("PROVER_SHARED_DIR", ROOT.parent / "shared"))
    archives = sorted((shared / "corpus").glob("*.tar.zst"))
    if args.corpus:
        archives = [a for a in archives if a.name.startswith(tuple(f"corpus_{c}" for c in args.corpus))]
    if not archives:
        sys.exit(f"no corpus archives under {shared / 'corpus'}")
    old = baseline_module(args.baseline)
    texts: list[str] = []
    for a in archives:
        part = read_archive(a, args.every)
        print(f"{a.name}: {len(part)} files")
        texts += part
    print(f"{len(texts)} files, {sum(map(len, texts)) / 1e6:.1f} M characters; baseline = {args.baseline}")

    def decls(mod: ModuleType):  # type: ignore[no-untyped-def]
        return lambda t: dict(decl_item(d) for d in mod.scan(t).declarations)

    def toks(mod: ModuleType):  # type: ignore[no-untyped-def]
        return lambda t: len(mod.scan(t).tokens)

    print(f"{'workload':<14}{'baseline s':>12}{'this s':>10}{'ratio':>8}")
    results = {}
    for name, make in (("declarations", decls), ("tokens", toks)):
        t_old = t_new = float("inf")
        for _ in range(max(1, args.repeat)):
            t, r_old = timed(make(old), texts)
            t_old = min(t_old, t)
            t, r_new = timed(make(syntax), texts)
            t_new = min(t_new, t)
        results[name] = (r_old, r_new)
        print(f"{name:<14}{t_old:>12.1f}{t_new:>10.1f}{t_old / t_new:>7.2f}x")
    r_old, r_new = results["declarations"]
    pairs = list(zip(r_old, r_new, strict=True))
    files = sum(a != b for a, b in pairs)
    one_side = sum(len(a.keys() ^ b.keys()) for a, b in pairs)
    moved = sum(a[k] != b[k] for a, b in pairs for k in a.keys() & b.keys())
    print(
        f"declarations: {sum(map(len, r_new))} here; {files} files differ from the baseline: {one_side} found by "
        f"one scanner only, {moved} with other spans"
    )
    k_old, k_new = results["tokens"]
    print(f"tokens: {sum(k_new)} here, {sum(k_old)} baseline")


if __name__ == "__main__":
    main()
