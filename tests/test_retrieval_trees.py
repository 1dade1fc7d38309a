"""A small Lean source tree (written here) and the corpus built from it: import graph, accessibility, caching.

Other ``test_retrieval_*`` modules import ``TREE`` / ``build_tree_corpus`` from here.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from prover.lean.types import Theorem
from retrieval.corpus import Corpus, build_corpus

TREE: dict[str, str] = {
    "Lib/Basic.lean": """
        /-
        Copyright: a header comment with theorem not_a_decl : False
        -/
        namespace Lib.Basic

        theorem early : True := by exact later_fact

        /-- The basic fact. -/
        theorem base_fact : True := trivial

        theorem later_fact : True := trivial

        private theorem hidden : True := trivial

        end Lib.Basic

        theorem Lib.Basic.extra : True := by exact base_fact
        """,
    "Lib/Algebra.lean": """
        import Lib.Basic

        namespace Lib.Algebra

        @[simp]
        theorem add_self (n : Nat) : n + n = 2 * n := by omega

        protected def Nat.double (n : Nat) : Nat := n + n

        private theorem secret : True := trivial

        theorem mul_two (n : Nat) : n * 2 = n + n := by
          have := secret
          rw [add_self, Nat.double]

        end Lib.Algebra
        """,
    "Top.lean": """
        import Lib.Algebra

        namespace Top
        open Lib.Algebra
        open Lib.Algebra.Nat

        theorem useOpen (n : Nat) : n + n = 2 * n := by
          have h := add_self.symm
          simp [double]

        open Lib.Basic in
        theorem useOpenIn : True := by exact base_fact

        theorem useQualified : True := by
          have := Lib.Algebra.Nat.double 1
          exact _root_.Lib.Basic.base_fact

        theorem usePrivateElsewhere : True := by
          exact secret

        end Top
        """,
    "Other.lean": """
        import Mathlib.Tactic

        theorem other_fact (x : Nat) : x ≤ x + 1 := Nat.le_succ x
        """,
    "Main.lean": """
        import Top
        import Other
        """,
}


def write_tree(root: Path, tree: dict[str, str] = TREE) -> Path:
    for rel, text in tree.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def build_tree_corpus(tmp_path: Path, tree: dict[str, str] = TREE) -> Corpus:
    root = write_tree(tmp_path / "lib", tree)
    return Corpus.from_lean_sources([root], cache_dir=tmp_path / "cache", progress=False, workers=1)


def names(corpus: Corpus, mask: np.ndarray) -> set[str]:
    return {corpus.premises[i].full_name for i in np.flatnonzero(mask)}


@pytest.fixture()
def corpus(tmp_path: Path) -> Corpus:
    return build_tree_corpus(tmp_path)


def test_files_modules_and_import_graph(corpus: Corpus) -> None:
    assert {f.module for f in corpus.files} == {"Lib.Basic", "Lib.Algebra", "Top", "Other", "Main"}
    g = corpus.graph
    assert g.has_edge("Top", "Lib.Algebra") and g.has_edge("Lib.Algebra", "Lib.Basic")
    assert g.nodes["Mathlib.Tactic"]["external"] and not g.nodes["Top"]["external"]
    assert corpus.imported_files("Top") == {"Lib/Algebra.lean", "Lib/Basic.lean"}
    assert corpus.imported_files("Main") == {"Lib/Algebra.lean", "Lib/Basic.lean", "Top.lean", "Other.lean"}
    assert corpus.imported_files("Lib.Basic") == set()
    # premises are grouped by file, in source order
    assert np.all(np.diff(corpus.premise_file) >= 0)
    p = corpus.get("Lib.Basic.base_fact")
    assert p is not None and p.path == "Lib/Basic.lean" and p.line == 9 and p.code == "theorem base_fact : True"


def test_accessibility_from_a_file_position(corpus: Corpus) -> None:
    line = corpus.get("Top.useOpenIn").line
    acc = names(corpus, corpus.accessible_from_file(corpus.path_index["Top.lean"], line))
    assert {"Lib.Basic.base_fact", "Lib.Basic.early", "Lib.Basic.extra", "Lib.Algebra.add_self",
            "Lib.Algebra.Nat.double", "Top.useOpen"} <= acc
    assert "Top.useOpenIn" not in acc and "Top.useQualified" not in acc  # not declared above
    assert "other_fact" not in acc  # Other is not imported by Top
    assert "Lib.Algebra.secret" not in acc and "Lib.Basic.hidden" not in acc  # private elsewhere
    # inside its own file a private declaration is visible below it
    acc_alg = names(corpus, corpus.accessible_from_file(corpus.path_index["Lib/Algebra.lean"], 100))
    assert "Lib.Algebra.secret" in acc_alg and "Lib.Basic.hidden" not in acc_alg


def test_accessibility_of_theorem_objects(corpus: Corpus) -> None:
    everything = names(corpus, corpus.accessible_mask(None))
    assert "other_fact" in everything and "Lib.Algebra.secret" not in everything
    # benchmark-style theorem: header imports decide
    thm = Theorem("t", "theorem t : True := by", header="import Top\n\nopen Lib\n")
    acc = names(corpus, corpus.accessible_mask(thm))
    assert "Top.usePrivateElsewhere" in acc and "Lib.Basic.base_fact" in acc and "other_fact" not in acc
    assert "other_fact" in names(corpus, corpus.accessible_mask(Theorem("t", "", header="import Main")))
    # a module with no file of its own stands for the corpus modules under it (like `import Mathlib`)
    lib = names(corpus, corpus.accessible_mask(Theorem("t", "", header="import Lib")))
    assert "Lib.Algebra.add_self" in lib and "Top.useOpen" not in lib
    # nothing imported from the corpus: the whole corpus (never silently empty), and the reason is given
    outside = Theorem("t", "", header="import Std")
    assert names(corpus, corpus.accessible_mask(outside)) == everything
    assert corpus.fallback_reason(outside) == "its header imports Std, none of it in the corpus"
    assert corpus.fallback_reason(thm) is None and corpus.fallback_reason(None) is None
    # a theorem located in a corpus file (LeanDojo style meta, or source = path:line)
    located = Theorem("Top.useQualified", "", source="Top.lean:1")
    assert "Top.useOpen" not in names(corpus, corpus.accessible_mask(located))
    meta = Theorem("x", "", meta={"file_path": "Top.lean", "start": [100, 1]})
    assert "Top.usePrivateElsewhere" in names(corpus, corpus.accessible_mask(meta))


def test_save_load_round_trip(corpus: Corpus, tmp_path: Path) -> None:
    corpus.save(tmp_path / "saved")
    c2 = Corpus.load(tmp_path / "saved")
    assert c2.premises == corpus.premises
    assert [f.module for f in c2.files] == [f.module for f in corpus.files]
    assert np.array_equal(c2.uses_indices, corpus.uses_indices)
    assert np.array_equal(c2.reach, corpus.reach)
    assert np.array_equal(c2.private, corpus.private) and np.array_equal(c2.protected, corpus.protected)


def test_build_corpus_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "lib")
    c1 = build_corpus([root], cache_dir=tmp_path / "cache", progress=False)
    monkeypatch.setattr(Corpus, "from_lean_sources", classmethod(lambda *a, **k: pytest.fail("rebuilt")))
    c2 = build_corpus([root], cache_dir=tmp_path / "cache", progress=False)
    assert c2.premises == c1.premises
    # a changed source is noticed
    (root / "Other.lean").write_text("theorem changed_fact : True := trivial\n", encoding="utf-8")
    monkeypatch.undo()
    c3 = build_corpus([root], cache_dir=tmp_path / "cache", progress=False)
    assert c3.get("changed_fact") is not None and c3.get("other_fact") is None


def test_corpus_from_tar_zst_archive(tmp_path: Path) -> None:
    import zstandard

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for rel, text in TREE.items():
            data = textwrap.dedent(text).lstrip("\n").encode()
            info = tarfile.TarInfo(f"mylib_abc123/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    archive = tmp_path / "corpus_mylib_abc123.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    c = build_corpus([archive], cache_dir=tmp_path / "cache", progress=False)
    assert c.get("Top.useOpen") is not None and c.get("Top.useOpen").path == "Top.lean"
    assert c.imported_files("Top") == {"Lib/Algebra.lean", "Lib/Basic.lean"}


def test_a_source_file_that_is_not_an_archive_is_a_user_error(tmp_path: Path) -> None:
    from prover.errors import UserError

    lean = tmp_path / "Single.lean"
    lean.write_text("theorem t : True := trivial\n")
    bogus = tmp_path / "bogus.tar.zst"
    bogus.write_bytes(b"not zstd at all")
    for src in (lean, bogus):
        with pytest.raises(UserError, match="not a readable .tar / .tar.zst archive"):
            build_corpus([src], cache_dir=tmp_path / "cache", progress=False)


def test_leandojo_corpus_jsonl(tmp_path: Path) -> None:
    rows = [
        {"path": ".lake/packages/batteries/Batteries/Logic.lean", "imports": [],
         "premises": [{"full_name": "Batteries.foo", "code": "theorem Batteries.foo : True", "start": [3, 1],
                       "end": [3, 30], "kind": "commanddeclaration"}]},
        {"path": "Mathlib/A.lean", "imports": [".lake/packages/batteries/Batteries/Logic.lean"],
         "premises": [{"full_name": "A.bar", "code": "theorem A.bar : True", "start": [5, 1], "end": [5, 20],
                       "kind": "commanddeclaration"},
                      {"full_name": "A.baz", "code": "theorem A.baz : True", "start": [9, 1], "end": [9, 20],
                       "kind": "commanddeclaration"}]},
        {"path": "Mathlib/B.lean", "imports": [], "premises": [{"full_name": "B.q", "code": "def B.q := 1",
                                                               "start": [1, 1], "end": [1, 9]}]},
    ]
    f = tmp_path / "corpus.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    c = build_corpus([f], cache_dir=tmp_path / "cache", progress=False)
    assert len(c) == 4 and c.get("Batteries.foo").path == "Batteries/Logic.lean"
    thm = Theorem("A.baz", "", meta={"file_path": "Mathlib/A.lean", "line": 9})
    assert names(c, c.accessible_mask(thm)) == {"Batteries.foo", "A.bar"}
    assert names(c, c.accessible_mask(Theorem("t", "", header="import Mathlib.A"))) == {"Batteries.foo", "A.bar",
                                                                                          "A.baz"}


def test_damaged_corpus_is_a_one_line_error(tmp_path: Path) -> None:
    from prover.errors import UserError

    (tmp_path / "corpus.json").write_text("{bad")
    np.savez(tmp_path / "corpus.npz", x=np.zeros(1))
    with pytest.raises(UserError, match="damaged"):
        Corpus.load(tmp_path)


MODULE_TREE = {
    "Lib/Basic.lean": """
        module

        public section
        theorem base_fact : True := trivial
        end
        """,
    "Lib/Meta.lean": """
        module

        theorem meta_fact : True := trivial
        """,
    "Lib/Priv.lean": """
        module

        theorem priv_fact : True := trivial
        """,
    "Lib/Top.lean": """
        module

        public import Lib.Basic
        meta import Lib.Meta
        import all Lib.Priv

        theorem top_fact : True := by exact base_fact
        """,
}


@pytest.mark.parametrize(
    "header",
    [
        "module\n\npublic import Lib.Top\n",
        "module\npublic meta import Lib.Top\n",
        "module\nimport all Lib.Top\n",
        "module\n-- a comment\npublic import Lib.Top -- why\n",
        "import Lib.Top\n",
    ],
)
def test_module_system_headers_give_their_imports(tmp_path: Path, header: str) -> None:
    """Files of Lean's module system (``module``, ``public import``, ``meta import``, ``import all``) import
    what they say, in the corpus's graph and in a theorem's header."""
    c = build_tree_corpus(tmp_path, MODULE_TREE)
    assert c.imported_files("Lib.Top") == {"Lib/Basic.lean", "Lib/Meta.lean", "Lib/Priv.lean"}
    top = c.name_index["top_fact"][0]
    assert [c.premises[j].full_name for j in c.uses(top)] == ["base_fact"]
    thm = Theorem("t", "theorem t : True := by", header=header)
    assert c.fallback_reason(thm) is None
    assert names(c, c.accessible_mask(thm)) == {"base_fact", "meta_fact", "priv_fact", "top_fact"}


def test_a_module_system_file_loaded_as_a_theorem_sees_its_imports(tmp_path: Path) -> None:
    """`prover prove FILE.lean --theorem` on a file of the module system: the header it loads is read with
    every import form, so retrieval returns premises (the issue's bug: nothing at all)."""
    from prover.theorems import load_file_theorem

    c = build_tree_corpus(tmp_path, MODULE_TREE)
    f = tmp_path / "Mine.lean"
    f.write_text("module\n\npublic import Lib.Basic\nimport all Lib.Priv\n\ntheorem mine : True := by\n  sorry\n")
    thm = load_file_theorem(f, "mine")
    assert c.fallback_reason(thm) is None
    assert names(c, c.accessible_mask(thm)) == {"base_fact", "priv_fact"}
