"""The premise-usage prior (counts, its ranking effect in BM25 and dense, choosing its weight) and the default
corpus built from a Lean project's packages and its toolchain's core sources (trees written here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_retrieval_trees import write_tree

from retrieval.bm25 import BM25Retriever
from retrieval.corpus import Corpus
from retrieval.dense import DenseIndex, DenseRetriever
from retrieval.evaluate import EvalItem
from retrieval.prior import choose_weight, prior_feature, usage_counts

# Two lemmas a query matches equally well; `popular` is named by three proofs, `rare` by none. `rare` comes
# first in the file, so without the prior the tie goes to it.
PRIOR_TREE = {
    "Lib/Facts.lean": """
        theorem rare (a b : Nat) : a + b = b + a := Nat.add_comm a b

        theorem popular (a b : Nat) : a + b = b + a := Nat.add_comm a b
        """,
    "Lib/Uses.lean": """
        import Lib.Facts

        theorem u1 (x y : Nat) : x + y = y + x := by exact popular x y

        theorem u2 (x : Nat) : x + 1 = 1 + x := by rw [popular]

        theorem u3 (x : Nat) : x + 2 = 2 + x := by
          rw [popular]
        """,
}
QUERY = "a b : Nat ⊢ a + b = b + a"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = write_tree(tmp_path_factory.mktemp("prior") / "lib", PRIOR_TREE)
    return Corpus.from_lean_sources([root], progress=False, workers=1)


def _idx(corpus: Corpus, name: str) -> int:
    return corpus.name_index[name][0]


def test_usage_counts_and_exclusion(corpus: Corpus) -> None:
    pop, rare = _idx(corpus, "popular"), _idx(corpus, "rare")
    counts = usage_counts(corpus)
    assert counts[pop] == 3 and counts[rare] == 0
    excl = np.zeros(len(corpus), dtype=bool)
    excl[_idx(corpus, "u1")] = True  # a held-out proof is not counted
    assert usage_counts(corpus, exclude=excl)[pop] == 2
    assert corpus.prior[pop] == pytest.approx(np.log(4)) and corpus.prior[rare] == 0


def test_prior_reorders_bm25_ties(corpus: Corpus) -> None:
    plain = BM25Retriever.build(corpus, prior_weight=0.0)
    with_prior = BM25Retriever.build(corpus, prior_weight=1.0)
    names = lambda r: [p.full_name for p in r.retrieve(QUERY, None, 2)]  # noqa: E731
    assert names(plain) == ["rare", "popular"]
    assert names(with_prior) == ["popular", "rare"]
    # candidates stay the premises the query matches: the prior does not bring in unmatched ones
    idx, _ = with_prior.retrieve_indices("zzz_nothing_matches", None, 5)
    assert idx.size == 0


class _FixedEncoder:
    """Embeds every query as the same unit vector (the test controls the premise vectors)."""

    name = "fixed"
    max_length = 8

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_prior_reorders_dense_near_ties(corpus: Corpus, kind: str) -> None:
    pop, rare = _idx(corpus, "popular"), _idx(corpus, "rare")
    emb = np.tile(np.array([0.0, 1.0], dtype=np.float32), (len(corpus), 1))
    emb[rare] = [1.0, 0.0]  # cosine 1.0
    emb[pop] = [0.999, 0.0447]  # cosine 0.999
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    index = DenseIndex.from_embeddings(emb, np.arange(len(corpus)), kind)
    top = lambda w: DenseRetriever(corpus, _FixedEncoder(), index, prior_weight=w).retrieve(QUERY, None, 2)  # type: ignore[arg-type]  # noqa: E731
    assert [p.full_name for p in top(0.0)] == ["rare", "popular"]
    assert [p.full_name for p in top(0.01)] == ["popular", "rare"]


def test_choose_weight_follows_the_validation_items(corpus: Corpus) -> None:
    pop, rare = _idx(corpus, "popular"), _idx(corpus, "rare")
    prior = prior_feature(usage_counts(corpus))
    fi = int(corpus.premise_file[_idx(corpus, "u1")])
    flat = lambda q: np.where(np.isin(np.arange(len(corpus)), [pop, rare]), 1.0, 0.0).astype(np.float32)  # noqa: E731
    wants_popular = [EvalItem(_idx(corpus, "u1"), QUERY, np.array([pop]), fi, 1)]
    wants_rare = [EvalItem(_idx(corpus, "u1"), QUERY, np.array([rare]), fi, 1)]
    w, table = choose_weight(flat, corpus, wants_popular, prior, (0.0, 0.5, 2.0))
    assert w == 0.5 and table[0.5]["R@1"] == 1.0 and table[0.0]["R@1"] == 0.0  # smallest weight that helps
    w, _ = choose_weight(flat, corpus, wants_rare, prior, (0.0, 0.5, 2.0))
    assert w == 0.0


# -- the default corpus: the project's packages + Lean core from the toolchain -------------------------------

PACKAGES = {
    "mathlib/lakefile.lean": "import Lake\n",
    "mathlib/Mathlib.lean": "import Mathlib.Algebra.Ring\n",
    "mathlib/Mathlib/Algebra/Ring.lean": """
        import Batteries.Data.Nat

        theorem ring_fact (a : Nat) : a * 1 = a := by exact bat_fact a
        """,
    "mathlib/MathlibTest/Ring.lean": "theorem test_only : True := trivial\n",
    "mathlib/scripts/Tool.lean": "def tool_only : Nat := 0\n",
    "batteries/lean-toolchain": "leanprover/lean4:v4.24.0\n",
    "batteries/Batteries/Data/Nat.lean": "theorem bat_fact (a : Nat) : a * 1 = a := Nat.mul_one a\n",
    "REPL/lakefile.toml": "name = \"REPL\"\n",
    "REPL/REPL/Main.lean": "def repl_main : Nat := 0\n",
}
CORE = {
    "Init/Prelude.lean": "prelude\ntheorem core_fact : True := trivial\n",
    "Init.lean": "prelude\nimport Init.Prelude\n",
    "Std/Data.lean": "theorem std_fact : True := trivial\n",
    "Lean/Elab.lean": "def elab_only : Nat := 0\n",
}


def _project(tmp_path: Path, with_packages: bool = True) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    if with_packages:
        write_tree(project / ".lake" / "packages", PACKAGES)
    return project


def test_index_build_defaults_to_the_project_packages_and_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prover.cli import main

    project = _project(tmp_path)
    elan = tmp_path / "elan"
    write_tree(elan / "toolchains" / "leanprover--lean4---v4.24.0" / "src" / "lean", CORE)
    monkeypatch.setenv("ELAN_HOME", str(elan))
    out = tmp_path / "index"
    assert main(["index", "build", "--out", str(out), "--lean-project", str(project), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "batteries, mathlib" in printed and "src/lean" in printed and "usage-prior weight" in printed
    c = Corpus.load(out)
    got = {p.full_name for p in c.premises}
    assert got == {"ring_fact", "bat_fact", "core_fact", "std_fact"}  # no tests, scripts, REPL, Lean/
    assert {f.module for f in c.files} >= {"Mathlib", "Mathlib.Algebra.Ring", "Batteries.Data.Nat", "Init.Prelude"}
    ring = c.name_index["ring_fact"][0]
    assert [c.premises[j].full_name for j in c.uses(ring)] == ["bat_fact"]  # resolved across packages
    assert json.loads((out / "bm25" / "meta.json").read_text())["prior_tuning"]["chosen_on"].startswith("default")

    # no toolchain installed: the packages alone, with a warning about Lean core
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "no-elan"))
    out2 = tmp_path / "index2"
    assert main(["index", "build", "--out", str(out2), "--lean-project", str(project), "--quiet"]) == 0
    assert {p.full_name for p in Corpus.load(out2).premises} == {"ring_fact", "bat_fact"}


def test_index_build_without_packages_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prover.cli import main

    project = _project(tmp_path, with_packages=False)
    assert main(["index", "build", "--out", str(tmp_path / "i"), "--lean-project", str(project)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no --source given" in err and "holds no Lean packages" in err and "scripts/setup_lean.sh" in err
