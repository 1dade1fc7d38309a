"""``prover index``: build and query the premise-retrieval index.

    prover index build --out runs/index [--method both]      # the packages of lean_project/ (+ Lean core)
    prover index build --source ../shared/corpus/corpus_mathlib4_2f65ba7.tar.zst --out runs/index
    prover index query --index runs/index --header "import Mathlib" -k 10 "n : ℕ ⊢ n + 0 = n"
    prover index info --index runs/index

``build`` scans the sources (Lean trees, ``*.tar.zst`` archives, or a LeanDojo ``corpus.jsonl``; default: the
packages of the Lean project and its toolchain's Init/Std, `retrieval.project_sources`) into a corpus, then
writes the BM25 index and, with ``--method dense|both``, the faiss index of the dense encoder. Each index stores
the premise-usage prior weight chosen on the corpus's validation split (``--prior-weight`` sets it instead).
``query`` prints the top-k accessible premises for a goal state: accessibility comes from ``--file``/``--line``
(a file of the corpus; one that is not is an error) or ``--header`` (its imports, every form of the module
system; one importing nothing of the corpus warns and searches the whole corpus), else every non-private premise
is a candidate.
``info --files`` lists the corpus files (the paths ``--file`` takes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from prover.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build / query the premise-retrieval index",
                       description="Build and query the premise-retrieval index (corpus, BM25, dense faiss).")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    b = isub.add_parser("build", help="build the corpus and indexes", description="Scan corpus sources and build "
                        "the indexes into --out.")
    b.add_argument("--source", action="append", type=Path, default=[], metavar="PATH",
                   help="Lean source tree, *.tar.zst archive, or LeanDojo corpus.jsonl (repeatable; default: the "
                   "packages of --lean-project and its toolchain's Lean core)")
    b.add_argument("--lean-project", type=Path, metavar="DIR",
                   help="Lean project whose .lake/packages make the default corpus (default: lean.project_dir)")
    b.add_argument("--prior-weight", type=float, metavar="W",
                   help="premise-usage prior weight (default: chosen on the corpus's validation split)")
    b.add_argument("--out", type=Path, required=True, metavar="DIR", help="index directory to write")
    b.add_argument("--method", choices=["bm25", "dense", "both"], default="bm25",
                   help="indexes to build (default bm25)")
    b.add_argument("--model", help="dense encoder (HF id or folder; default: the packaged MiniLM)")
    b.add_argument("--index-type", choices=["flat", "hnsw", "ivf"], default="flat", help="faiss index (default flat)")
    b.add_argument("--device", default="auto", help="encoder device (auto | cpu | cuda)")
    b.add_argument("--batch-size", type=int, default=64, help="premises per embedding batch")
    b.add_argument("--max-length", type=int, default=256, help="encoder tokens per premise")
    b.add_argument("--cache-dir", type=Path, help="where archives are unpacked (default ~/.cache/lean-prover)")
    b.add_argument("--rebuild", action="store_true", help="rescan the sources even if --out holds their corpus")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_build)

    q = isub.add_parser("query", help="top-k premises for a goal state",
                        description="Print the top-k accessible premises for a goal state.")
    q.add_argument("state", help="goal state text ('-' reads stdin)")
    q.add_argument("--index", type=Path, required=True, metavar="DIR", help="index directory")
    q.add_argument("--method", choices=["auto", "bm25", "dense"], default="auto")
    q.add_argument("-k", type=int, default=10, help="premises to return (default 10)")
    q.add_argument("--header", help="theorem header, e.g. 'import Mathlib' (its imports decide accessibility)")
    q.add_argument("--file", help="corpus file the theorem is in (e.g. Mathlib/Data/Nat/Basic.lean)")
    q.add_argument("--line", type=int, help="line of the theorem in --file (premises above it are accessible)")
    q.add_argument("--statement", help="theorem statement (added to the query with --with-statement)")
    q.add_argument("--with-statement", action="store_true", help="query = state + statement")
    q.add_argument("--model", help="dense encoder to embed the query (default: the one the index was built with)")
    q.add_argument("--device", default="auto")
    q.add_argument("--json", action="store_true", help="one JSON object per premise")
    q.set_defaults(func=_query)

    i = isub.add_parser("info", help="what an index directory holds")
    i.add_argument("--index", type=Path, required=True, metavar="DIR")
    i.add_argument("--files", action="store_true", help="list the corpus files (paths for query --file), one a line")
    i.set_defaults(func=_info)


def _build(args: argparse.Namespace) -> int:
    from retrieval.bm25 import BM25Retriever
    from retrieval.corpus import build_corpus
    from retrieval.prior import BM25_WEIGHTS

    if args.prior_weight is not None and args.prior_weight < 0:
        raise UserError(f"--prior-weight must be >= 0, not {args.prior_weight}")
    sources = list(args.source)
    if not sources:
        from prover.lean.config import default_project_dir
        from retrieval.project_sources import default_sources

        project = args.lean_project or default_project_dir()
        sources = default_sources(project)
        names = ", ".join(s.name if s.parent.name == "packages" else str(s) for s in sources)
        print(f"corpus sources (from {project}): {names}")
    progress = not args.quiet
    t0 = time.perf_counter()
    corpus = build_corpus(sources, cache_dir=args.cache_dir, out_dir=args.out, rebuild=args.rebuild,
                          progress=progress)
    t_corpus = time.perf_counter() - t0
    print(f"corpus: {len(corpus)} premises in {len(corpus.files)} files ({t_corpus:.1f} s) -> {args.out}")
    t0 = time.perf_counter()
    bm = BM25Retriever.build(corpus, progress=progress)
    tuning = _choose_prior(bm, corpus, args.prior_weight, BM25_WEIGHTS, positive_only=True)
    bm.save(args.out / "bm25", extra_meta={"prior_tuning": tuning})
    print(f"bm25 index: {time.perf_counter() - t0:.1f} s -> {args.out / 'bm25'}; "
          f"{_prior_line(bm.prior_weight, tuning)}")
    if args.method in ("dense", "both"):
        from retrieval.dense import DenseRetriever, Encoder
        from retrieval.prior import DENSE_WEIGHTS

        enc = Encoder(args.model, device=args.device, max_length=args.max_length)
        t0 = time.perf_counter()
        dr = DenseRetriever.build(corpus, enc, index_type=args.index_type, batch_size=args.batch_size,
                                  progress=progress)
        if args.index_type == "flat":
            tuning = _choose_prior(dr, corpus, args.prior_weight, DENSE_WEIGHTS)
        else:  # scoring every premise per query needs the flat matrix; hnsw / ivf keep the default
            tuning = {"chosen_on": "default (hnsw / ivf indexes are not tuned)"}
            if args.prior_weight is not None:
                dr.prior_weight = args.prior_weight
        dr.index.meta["prior_tuning"] = tuning
        dr.save(args.out / "dense")
        print(f"dense index ({Path(enc.name).name}, {args.index_type}, dim {enc.dim}): "
              f"{time.perf_counter() - t0:.1f} s -> {args.out / 'dense'}; {_prior_line(dr.prior_weight, tuning)}")
    return 0


def _choose_prior(retriever: Any, corpus: Any, given: float | None, weights: tuple[float, ...],
                  positive_only: bool = False) -> dict[str, Any]:
    """Set ``retriever.prior_weight``: ``given``, else the best of ``weights`` on the validation split."""
    from retrieval.prior import tune_weight

    if given is not None:
        retriever.prior_weight = given
        return {"chosen_on": "--prior-weight"}
    w, table, n = tune_weight(retriever.full_scores, corpus, weights, positive_only=positive_only)
    if w is None:
        return {"chosen_on": f"default (only {n} validation theorems with resolved premises)"}
    retriever.prior_weight = w
    return {"chosen_on": f"{n} validation theorems", "table": {str(k): v for k, v in table.items()}}


def _prior_line(weight: float, tuning: dict[str, Any]) -> str:
    return f"usage-prior weight {weight:g} ({tuning['chosen_on']})"


def _query(args: argparse.Namespace) -> int:
    from prover.lean.types import Theorem
    from retrieval import build_retriever
    from retrieval.config import RetrievalConfig

    if args.k < 1:
        raise UserError(f"-k must be at least 1, not {args.k}")
    state = sys.stdin.read() if args.state == "-" else args.state
    cfg = RetrievalConfig(enabled=True, index_dir=args.index, k=args.k, method=args.method, model=args.model,
                          device=args.device, query_with_statement=args.with_statement)
    retriever = build_retriever(cfg)
    assert retriever is not None
    theorem = None
    if args.header is not None or args.file is not None or args.statement is not None:
        meta = {"file_path": args.file, "line": args.line} if args.file else {}
        theorem = Theorem(name="query", statement=args.statement or "", header=args.header or "", meta=meta)
    corpus = retriever.corpus
    if theorem is not None and args.file and corpus.locate(theorem) is None:
        close = corpus.close_paths(args.file)
        hint = (f"did you mean {', '.join(close)}?" if close else
                "give a path relative to the library root, e.g. Mathlib/Data/Nat/Basic.lean")
        raise UserError(f"--file {args.file}: not a file of the corpus in {args.index} "
                        f"({len(corpus.files)} files: `prover index info --files` lists them); {hint}")
    # a header importing nothing of the corpus: the retriever warns (one line) and searches the whole corpus
    t0 = time.perf_counter()
    premises = retriever.retrieve(state, theorem, args.k)
    dt = time.perf_counter() - t0
    for rank, p in enumerate(premises, 1):
        if args.json:
            print(json.dumps({"rank": rank, "full_name": p.full_name, "path": p.path, "line": p.line,
                              "kind": p.kind, "code": p.code}, ensure_ascii=False))
        else:
            print(f"{rank:3d}. {p.full_name}  ({p.path}:{p.line})\n     {p.code[:200]}")
    if not args.json:
        print(f"{len(premises)} premises in {1000 * dt:.1f} ms ({type(retriever).__name__})", file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    from retrieval.corpus import Corpus

    c = Corpus.load(args.index)
    if args.files:
        for f in c.files:
            print(f.path)
        return 0
    kinds: dict[str, int] = {}
    for p in c.premises:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    info = {
        "index": str(args.index),
        "premises": len(c),
        "files": len(c.files),
        "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "tactic_proofs": int(c.tactic_proof.sum()),
        "declarations_with_resolved_references": int((np.diff(c.uses_indptr) > 0).sum()),
        "sources": c.meta.get("sources"),
        "bm25": (args.index / "bm25").is_dir(),
        "dense": json.loads((args.index / "dense" / "meta.json").read_text())
        if (args.index / "dense" / "meta.json").is_file() else None,
    }
    print(json.dumps(info, indent=1, ensure_ascii=False))
    return 0
