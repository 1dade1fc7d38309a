"""PutnamBench and FormalMATH on the shared rows: every file/row reads into a theorem whose statement is
upstream's, answer placeholders in both evaluation modes, declared names, hierarchical domains, the Lean
version warning, and `prover data download` on local copies in the upstream layout (no network here)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from data import download as dl
from data import formalmath, putnambench
from data.benchmarks import (
    REGISTRY,
    benchmark_run_info,
    decode_subjects,
    lean_version_warning,
    load_benchmark,
    load_theorems,
    subject_of,
)
from prover.errors import UserError
from prover.lean.gate import SoundnessGate
from prover.lean.syntax import COMMENT, scan, tokenize
from prover.lean.types import CommandResult, Theorem, parse_command_response


def _rows(shared: Path, file: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (shared / "benchmarks" / file).read_text(encoding="utf-8").splitlines() if x]


def _code(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.kind != COMMENT and t.kind != "doc"]


@pytest.fixture(scope="module")
def putnam_rows(shared_dir: Path) -> list[dict[str, Any]]:
    return _rows(shared_dir, "putnambench_lean4.jsonl")


@pytest.fixture(scope="module")
def lite_rows(shared_dir: Path) -> list[dict[str, Any]]:
    return _rows(shared_dir, "formalmath_lite.jsonl")


# ---------------------------------------------------------------------------------------------------
# PutnamBench


def test_every_putnam_file_reads_and_its_statement_ends_where_upstreams_does(putnam_rows) -> None:
    assert len(putnam_rows) == putnambench.TOTAL == 672
    with_answers = 0
    for r in putnam_rows:
        p = putnambench.parse_problem(r["lean4_file"], r["name"])
        text = r["lean4_file"]
        thm = max((d for d in scan(text).declarations if d.is_theorem), key=lambda d: d.keyword)
        assert p.name == r["name"] == thm.name
        # statement + upstream's proof is upstream's theorem command, token for token
        assert p.proof == "sorry", r["name"]
        assert _code(p.statement + " " + p.proof) == _code(text[thm.keyword : thm.end]), r["name"]
        assert p.statement.rstrip().endswith((":=", ":= by")), r["name"]
        # the docstring is the informal statement (upstream's CI keeps them in sync, up to spaces)
        assert "".join((p.doc or "").split()) == "".join(r["informal_statement"].split()), r["name"]
        with_answers += bool(p.placeholders)
    assert with_answers == 346


def test_putnam_answers_inline_as_upstreams_rewrite(putnam_rows) -> None:
    """Inline mode: each placeholder name in the code becomes ((ANSWER) : TYPE), the placeholder and its
    comment are gone, and every one of the 346 comments reads as a term of its placeholder's type."""
    placeholders = problems = 0
    for r in putnam_rows:
        p = putnambench.parse_problem(r["lean4_file"], r["name"])
        t = putnambench.theorem_from_row(r, f"row {r['name']}")
        names = {x.name for x in p.placeholders}
        code = _code(t.header + t.statement)
        assert not names & set(code), r["name"]  # no placeholder left
        assert "sorry" not in code, r["name"]
        for x in p.placeholders:
            placeholders += 1
            problems += x.problem is not None
            assert x.answer and x.answer not in ("", None)
            # the comment and the type agree (shape check), and the statement carries both
            assert putnambench.answer_problem(x.answer, x.type) is None, (r["name"], x.answer, x.type)
        # token-wise: upstream's statement with each placeholder replaced == ours
        expected: list[str] = []
        for tok in _code(p.statement):
            if tok in names:
                x = next(y for y in p.placeholders if y.name == tok)
                expected += _code(f"(({x.answer}) : {x.type})")
            else:
                expected.append(tok)
        assert _code(t.statement) == expected, r["name"]
        assert t.meta["answers"] == ("inline" if names else None)
    assert (placeholders, problems) == (346, 0)


def test_putnam_answer_free_mode_keeps_the_placeholders_and_hides_the_answers(putnam_rows) -> None:
    free = [putnambench.theorem_from_row(r, r["name"], "free") for r in putnam_rows]
    with_ph = [t for t in free if t.meta["answers"] == "free"]
    assert len(with_ph) == 346
    for r, t in zip(putnam_rows, free, strict=True):
        p = putnambench.parse_problem(r["lean4_file"], r["name"])
        assert _code(t.statement) == _code(p.statement)  # upstream's statement, placeholders by name
        for x in p.placeholders:
            assert f"{x.head} := sorry" in t.header
            comments = [c.text for c in tokenize(t.header) if c.kind == COMMENT]
            assert not any(x.answer in c for c in comments)  # the answer comment is gone...
        if p.placeholders:
            assert "informal_solution" not in t.meta  # ...and so is the informal answer
            assert t.meta["answer_heads"] == [x.head for x in p.placeholders]


def test_answer_comments_that_are_not_terms_are_reported_not_guessed() -> None:
    bad = {
        "the answer is 3": "prose",
        "$n(n+1)$": "LaTeX",
        "(1, 2": "unbalanced",
        "fun x => x": "function where a value",
        "{1, 2}": "set where a number",
        "(1, 2)": "tuple of 2 parts for a product of 3",
        "True": "bool where a number",
    }
    types = {"(1, 2)": "ℕ × ℕ × ℕ"}
    for answer, why in bad.items():
        got = putnambench.answer_problem(answer, types.get(answer, "ℕ"))
        assert got is not None and why in got, (answer, got)
    for answer, ty in [
        ("fun f g x ↦ g x - f (x - 3)", "(ℝ → ℝ) → (ℝ → ℝ) → (ℝ → ℝ)"),  # curried: three arguments
        ("Nat.fib", "ℕ → ℕ"),
        ("((1, 2), 3)", "(ℕ × ℕ) × ℕ"),
        ("{x : ℝ | x > 0}", "Set ℝ"),
        ("False", "Prop"),
    ]:
        assert putnambench.answer_problem(answer, ty) is None, answer
    # a file whose comment is prose: the placeholder stays `sorry` and the row says why
    text = (
        "import Mathlib\n\nabbrev putnam_x_solution : ℕ := sorry\n-- the answer is the number of primes\n"
        "/-- doc -/\ntheorem putnam_x : putnam_x_solution = 2 :=\nsorry\n"
    )
    t = putnambench.theorem_from_row({"name": "putnam_x", "lean4_file": text, "tags": ["algebra"]}, "x:1")
    assert "abbrev putnam_x_solution : ℕ := sorry" in t.header and "primes" not in t.header
    assert t.meta["answer_problems"] and "prose" in t.meta["answer_problems"][0]
    info = benchmark_run_info("putnambench", [t], "inline")
    assert info["answers"] == "inline" and info["answer_problems"][0]["name"] == "putnam_x"
    assert info["benchmark_info"]["total"] == 672


_FREE_TEXT = (
    "import Mathlib\n\nopen Nat\n\nabbrev putnam_y_solution : ℕ → ℕ := sorry\n-- fun n => n + 1\n"
    "/-- doc -/\ntheorem putnam_y : ∀ n, putnam_y_solution n = n + 1 :=\nsorry\n"
)


def _free_theorem() -> Theorem:
    return putnambench.theorem_from_row({"name": "putnam_y", "lean4_file": _FREE_TEXT}, "y:1", "free")


def test_instantiate_answers_moves_the_models_answers_into_the_header() -> None:
    t = _free_theorem()
    assert t.header == "import Mathlib\n\nopen Nat\n\nabbrev putnam_y_solution : ℕ → ℕ := sorry\n\n"
    text = (
        "import Mathlib\nopen Nat\n\nabbrev putnam_y_solution : ℕ → ℕ := fun n => n + 1\n\n"
        "theorem putnam_y : ∀ n, putnam_y_solution n = n + 1 := by\n  intro n\n  rfl\n"
    )
    t2, body = putnambench.instantiate_answers(t, text)
    assert "abbrev putnam_y_solution : ℕ → ℕ := fun n => n + 1\n" in t2.header and "sorry" not in t2.header
    assert body.strip().startswith("theorem putnam_y") and "abbrev" not in body
    assert t2.statement == t.statement and t2.meta["answers"] == "given"
    # not free: unchanged
    inline = putnambench.theorem_from_row({"name": "putnam_y", "lean4_file": _FREE_TEXT}, "y", "inline")
    assert putnambench.instantiate_answers(inline, text) == (inline, text)
    for bad, why in [
        ("theorem putnam_y : ∀ n, putnam_y_solution n = n + 1 := by\n  simp", "does not define the answer"),
        (text.replace("ℕ → ℕ := fun", "ℕ → ℤ := fun"), "head of the answer"),
        (text.replace("abbrev putnam_y", "@[simp] abbrev putnam_y"), "plain"),
        (text.replace("abbrev putnam_y", "private abbrev putnam_y"), "plain"),
        (text + "\nabbrev putnam_y_solution : ℕ → ℕ := id\n", "twice"),
    ]:
        with pytest.raises(UserError, match=why):
            putnambench.instantiate_answers(t, bad)


class _Runner:
    """Records the headers and commands the gate sends; answers like Lean would for a sound proof.

    What Lean answers is scripted from Lean's behaviour: a header with a `sorry`'d abbrev elaborates (with a
    warning); `#print axioms T` lists every axiom reachable from T's type and value
    (Lean.Util.CollectAxioms visits both), so a statement that mentions a `sorry` placeholder lists sorryAx."""

    lean_version = "4.27.0-scripted"

    def __init__(self) -> None:
        self.headers: list[str] = []
        self.sent: list[str] = []
        self.env = 0

    def header_env(self, header: str) -> int:
        self.headers.append(header)
        return 0

    def command(self, cmd: str, env: int | None = None, **kw: Any) -> CommandResult:
        self.sent.append(cmd)
        self.env += 1
        if cmd.startswith("#print axioms"):
            header = self.headers[-1]
            ax = "propext, sorryAx" if ":= sorry" in header else "propext"
            data = f"'{cmd.split()[-1]}' depends on axioms: [{ax}]"
            return parse_command_response({"messages": [{"severity": "info", "data": data}], "env": self.env})
        return parse_command_response({"env": self.env})


def test_answer_free_proof_reaches_the_gate_with_the_answers_in_its_header() -> None:
    t = _free_theorem()
    text = "abbrev putnam_y_solution : ℕ → ℕ := fun n => n + 1\n\ntheorem putnam_y : ∀ n, putnam_y_solution n = n + 1 := by\n  intro n\n  rfl\n"  # noqa: E501
    gate = SoundnessGate()
    t2, body = putnambench.instantiate_answers(t, text)
    r = _Runner()
    res = gate.check(r, t2, body)
    assert res.sound, res.reasons
    assert "fun n => n + 1" in r.headers[-1]
    assert any(c.startswith("theorem putnam_y_prover_gate_ref") for c in r.sent)  # the original, re-elaborated
    # The placeholder left as `sorry` (a step proof, no answer): unsound by the axiom audit.
    r2 = _Runner()
    res2 = gate.check(r2, t, t.statement + "\n  intro n\n  rfl")
    assert not res2.sound and any("sorryAx" in x for x in res2.reasons)


def test_putnambench_benchmark_loads_in_both_modes_with_tags_as_subjects(shared_dir: Path) -> None:
    inline = load_benchmark("putnambench", None, shared_dir / "benchmarks")
    free = load_theorems("putnambench", None, shared_dir / "benchmarks", answers="free")
    assert len(inline) == len(free) == 672
    t = next(x for x in inline if x.name == "putnam_1962_a5")
    assert t.meta["subjects"] == ["algebra", "combinatorics"]
    assert decode_subjects(subject_of(t)) == ["algebra", "combinatorics"]
    assert t.meta["lean_toolchain"] == "leanprover/lean4:v4.27.0" and t.meta["benchmark"] == "putnambench"
    assert t.source == "putnambench:test"
    with pytest.raises(UserError, match="unknown answer mode"):
        putnambench.problem_theorem(putnambench.parse_problem(t.header + t.statement + " sorry"), "guess")


# ---------------------------------------------------------------------------------------------------
# FormalMATH


def test_every_formalmath_lite_row_yields_its_declared_name(lite_rows) -> None:
    assert len(lite_rows) == 425
    differ = 0
    for i, r in enumerate(lite_rows):
        t = formalmath.theorem_from_row(r, f"lite:{i}")
        decls = [d for d in scan(r["autoformalization"]).declarations]
        assert t.name == decls[-1].name, r["theorem_names"]
        assert (t.header + t.statement).strip() == r["autoformalization"].strip()
        assert t.statement.endswith(":= by") and t.statement.startswith(("theorem", "def", "lemma"))
        assert t.meta["id"] == r["theorem_names"]
        differ += t.meta["declared_name_differs"]
    assert differ == 116  # SOURCES.md §5: theorem_names is not the declared name in 116 rows
    # `let x := …` inside the type: the statement still runs to the final `:= by`
    lets = [formalmath.theorem_from_row(r, "x") for r in lite_rows if r["theorem_names"] == "omni_theorem_1624"]
    assert lets and "let Pr := 1 - ∏" in lets[0].statement


def test_formalmath_domains_by_top_level_and_leaf(lite_rows) -> None:
    subs = formalmath.subjects_of_domain(
        "Mathematics -> Algebra -> Other; Mathematics -> Geometry -> Plane Geometry -> Angles;"
    )
    assert subs == ["Algebra/Other", "Geometry/Plane Geometry/Angles"]
    assert formalmath.subjects_of_domain("precalculus_review") == ["precalculus_review"]
    assert formalmath.subjects_of_domain(None) == []
    tops = {s.split("/")[0] for r in lite_rows for s in formalmath.subjects_of_domain(r["domain"])}
    assert {"Algebra", "Number Theory", "Geometry", "Calculus"} <= tops and "Mathematics" not in tops


def test_formalmath_benchmark_keys_are_unique_and_flaws_flagged(shared_dir: Path) -> None:
    ts = load_benchmark("formalmath_lite", None, shared_dir / "benchmarks")
    assert len(ts) == 425 and len({t.meta["key"] for t in ts}) == 425
    twice = [t for t in ts if t.name == "algebra_486944"]  # two rows declare the same name
    assert len(twice) == 2 and {t.meta["key"] for t in twice} == {t.meta["id"] for t in twice}
    flagged = [t for t in ts if t.meta.get("known_issue")]
    assert [t.name for t in flagged] == ["u_math_62"]  # the text of u-math_59 holds four theorems


# ---------------------------------------------------------------------------------------------------
# Lean versions


def test_version_warning_names_both_versions_and_the_fix(shared_dir: Path) -> None:
    pb = load_benchmark("putnambench", None, shared_dir / "benchmarks")[:3]
    msg = lean_version_warning(pb, "leanprover/lean4:v4.24.0")
    assert msg is not None and "\n" not in msg
    assert "Lean 4.27.0" in msg and "Lean 4.24.0" in msg and "setup_lean.sh" in msg
    assert lean_version_warning(pb, "leanprover/lean4:v4.27.0") is None
    assert lean_version_warning(pb, None) is None
    mf = load_benchmark("minif2f", "test", shared_dir / "benchmarks")[:2]
    assert lean_version_warning(mf, "leanprover/lean4:v4.24.0") is None
    for name, info in REGISTRY.items():
        assert info.source and info.license and info.mathlib, name
        assert info.lean_toolchain or name == "minif2f_dspplus", name  # DSP+ does not state its toolchain


# ---------------------------------------------------------------------------------------------------
# Downloads on local copies in the upstream layout


def _tarball(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_putnambench_download_rebuilds_the_shared_rows(tmp_path: Path, putnam_rows, monkeypatch) -> None:
    monkeypatch.delenv("PROVER_GITHUB_CODELOAD", raising=False)
    repo = dl.PUTNAMBENCH
    files = {f"lean4/src/{r['name']}.lean": r["lean4_file"] for r in putnam_rows}
    files["lean4/lean-toolchain"] = "leanprover/lean4:v4.27.0\n"
    files["lean4/scripts/rewrite_solutions.py"] = "print('not a problem')\n"
    informal = [
        {
            "problem_name": r["name"],
            "informal_statement": r["informal_statement"],
            "informal_solution": r["informal_solution"],
            "tags": r["tags"],
        }
        for r in putnam_rows
    ]
    files["informal/putnam.json"] = json.dumps(informal)
    url = f"https://codeload.github.com/{repo.slug}/tar.gz/{repo.commit}"
    archive = _tarball(f"PutnamBench-{repo.commit}", files)
    paths = dl.download("putnambench", tmp_path, fetch=lambda u: archive if u == url else b"")
    assert [p.name for p in paths] == ["putnambench_lean4.jsonl"]
    got = [json.loads(x) for x in paths[0].read_text(encoding="utf-8").splitlines()]
    assert got == putnam_rows  # the shared file is exactly what the pinned upstream converts to
    assert len(load_benchmark("putnambench", None, tmp_path)) == 672
    # a file that is not a problem names itself
    files["lean4/src/putnam_bad.lean"] = "import Mathlib\n\ndef x : ℕ := 1\n"
    archive = _tarball(f"PutnamBench-{repo.commit}", files)
    with pytest.raises(dl.DownloadError, match="putnam_bad.lean: no theorem"):
        dl.download("putnambench", tmp_path, fetch=lambda u: archive)


def test_formalmath_download_from_a_local_file_with_datasets(tmp_path: Path, lite_rows) -> None:
    """Offline: the upstream file (a JSON list, as FormalMATH_lite.json on the Hub) read by `datasets`."""
    upstream = [{k: r[k] for k in dl.FORMALMATH_FIELDS} for r in lite_rows[:40]]
    src = tmp_path / "FormalMATH_lite.json"
    src.write_text(json.dumps(upstream, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "bench"
    paths = dl.download("formalmath_lite", out, from_file=src, cache_dir=tmp_path / "hf-cache")
    assert [p.name for p in paths] == ["formalmath_lite.jsonl"]
    got = [json.loads(x) for x in paths[0].read_text(encoding="utf-8").splitlines()]
    assert [{k: g[k] for k in dl.FORMALMATH_FIELDS} for g in got] == upstream
    assert got[0]["provenance"]["upstream"] == "SphereLab/FormalMATH-Lite"
    ts = load_benchmark("formalmath_lite", None, out)
    assert [t.name for t in ts][:2] == ["algebra_569189", "algebra_539177"]
    with pytest.raises(dl.DownloadError, match="no such file"):
        dl.download("formalmath_lite", out, from_file=tmp_path / "missing.json")
    with pytest.raises(dl.DownloadError, match="is pinned"):
        dl.download("putnambench", out, revision="main")


def test_formalmath_download_from_the_hub_asks_datasets_for_the_pinned_revision(tmp_path: Path, lite_rows, monkeypatch):
    import datasets

    calls: list[tuple[Any, ...]] = []

    def fake_load(path: str, *a: Any, **kw: Any) -> Any:
        calls.append((path, kw.get("revision"), kw.get("split")))
        return [{k: r[k] for k in dl.FORMALMATH_FIELDS} for r in lite_rows[:3]]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr(dl, "_hub_commit", lambda repo, rev: "0123abc")
    dl.download("formalmath_lite", tmp_path)
    assert calls == [("SphereLab/FormalMATH-Lite", "75e91a8", "train")]
    row = json.loads((tmp_path / "formalmath_lite.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["provenance"]["revision"] == "75e91a8" and row["provenance"]["commit"] == "0123abc"
    dl.download("formalmath_all", tmp_path, revision="v1")
    assert calls[-1] == ("SphereLab/FormalMATH-All", "v1", "train")

    def offline(*a: Any, **kw: Any) -> Any:
        raise ConnectionError("Couldn't reach 'SphereLab/FormalMATH-Lite' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(dl.DownloadError, match="--from-file") as e:
        dl.download("formalmath_lite", tmp_path)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------------
# Corrected variants


def test_rectified_minif2f_flags_the_statements_it_corrected(shared_dir: Path) -> None:
    ts = load_benchmark("minif2f_rectified", "test", shared_dir / "benchmarks")
    fixed = {t.name: t.meta["corrected"] for t in ts if t.meta.get("corrected")}
    assert len(fixed) == 15  # SOURCES.md: DS-V1.5 with 15 statements fixed (Kimina)
    assert "mathd_algebra_314" in fixed and "ℕ division" in fixed["mathd_algebra_314"]
    assert all(v.startswith("statement corrected from minif2f_dsv15's") for v in fixed.values())
    info = benchmark_run_info("minif2f_rectified", ts, "inline")
    assert len(info["corrected"]) == 15 and info["benchmark_info"]["corrects"] == "minif2f_dsv15"
    # without the original's files nothing can be compared, so nothing is flagged
    solo = Path(shared_dir / "benchmarks" / "minif2f_rectified_test.jsonl")
    only = load_theorems(str(solo))
    assert not any(t.meta.get("corrected") for t in only)


def test_proofnet_verified_download_flags_what_the_audit_found(tmp_path: Path, shared_dir: Path, monkeypatch) -> None:
    """A local archive in ProofNet-Verified's layout, built from five shared ProofNet rows."""
    monkeypatch.delenv("PROVER_GITHUB_CODELOAD", raising=False)
    monkeypatch.delenv("PROVER_GITHUB_RAW", raising=False)
    pn = _rows(shared_dir, "proofnet_valid.jsonl")[:3] + _rows(shared_dir, "proofnet_test.jsonl")[:2]
    verified, audit = [], []
    for i, r in enumerate(pn, 1):
        verified.append(
            {
                "index": i,
                "name": r["name"],
                "textbook": r["proofnet_id"].split("|")[0].replace("-", " "),
                "header": r["header"].rstrip("\n"),
                "helper": "def aux : ℕ := 1" if i == 2 else "",
                "informal_stmt": r["informal_statement"],
                "formal_stmt": r["formal_statement"] + "\n  sorry",
                "informal_proof": r["informal_proof"],
                "formal_proof": "to avoid data contamination, the formal proof is in proofnet_verified_gt.zip",
            }
        )
        faithful = i != 3
        audit.append(
            {
                "file": f"proofnet-{i}.lean",
                "stem": f"proofnet-{i}",
                "q1_informal_status": "true_and_unambiguous",
                "q2_faithfulness": "faithful" if faithful else "weaker",
                "q3_provability": "true" if faithful else "false",
                "q4_error_type": "none" if faithful else "missing_premise",
                "reasoning": "…",
            }
        )
    repo, orig = dl.PROOFNET_VERIFIED, dl.PROOFNET_INFORMAL
    archive = _tarball(
        f"ProofNet-Verified-{repo.commit}",
        {
            "data/proofnet-verified.jsonl": "\n".join(json.dumps(v, ensure_ascii=False) for v in verified),
            "error_taxonomy/proofnet/results.jsonl": "\n".join(json.dumps(a) for a in audit),
            "lean-toolchain": "leanprover/lean4:v4.28.0\n",
        },
    )
    splits = {
        s: "\n".join(json.dumps({"id": r["proofnet_id"], "nl_statement": "x"}) for r in pn if r["split"] == s)
        for s in ("valid", "test")
    }
    files = {
        f"https://codeload.github.com/{repo.slug}/tar.gz/{repo.commit}": archive,
        **{
            f"https://raw.githubusercontent.com/{orig.slug}/{orig.commit}/benchmark/{s}.jsonl": t.encode()
            for s, t in splits.items()
        },
    }
    paths = dl.download("proofnet_verified", tmp_path, fetch=lambda u: files[u])
    assert sorted(p.name for p in paths) == ["proofnet_verified_test.jsonl", "proofnet_verified_valid.jsonl"]
    ts = load_benchmark("proofnet_verified", None, tmp_path)
    assert [t.name for t in ts] == [r["name"] for r in pn]
    assert [t.statement for t in ts] == [r["formal_statement"] for r in pn]
    assert "def aux : ℕ := 1" in ts[1].header
    flagged = {t.name: t.meta["corrected"] for t in ts if t.meta.get("corrected")}
    assert list(flagged) == [pn[2]["name"]]
    assert "weaker than the informal statement (missing premise); false as stated" in flagged[pn[2]["name"]]
    assert all(t.meta["lean_toolchain"] == "leanprover/lean4:v4.28.0" for t in ts)


def test_dspplus_minif2f_download_flags_its_corrections(tmp_path: Path, shared_dir: Path, monkeypatch) -> None:
    """DSP+'s datasets/minif2f.jsonl (DS-V1.5's fields) rebuilt from the shared DS-V1.5 rows with two statements
    changed; the corrections are flagged against minif2f_dsv15 when its files are beside them."""
    monkeypatch.delenv("PROVER_GITHUB_RAW", raising=False)
    ds = _rows(shared_dir, "minif2f_dsv15_valid.jsonl") + _rows(shared_dir, "minif2f_dsv15_test.jsonl")
    changed = {"mathd_numbertheory_618": "theorem mathd_numbertheory_618 (n : ℕ) (h₀ : 0 < n) : True := by"}
    upstream = []
    for r in ds:
        stmt = changed.get(r["name"], r["formal_statement"]) + "\n"
        upstream.append(
            {
                "name": r["name"],
                "split": r["split"],
                "informal_prefix": "/-- x -/",
                "formal_statement": stmt,
                "goal": "⊢ True",
                "header": "import Mathlib\nopen BigOperators Real Nat Topology Rat\n",
                "informal_statement": r["informal_statement"],
                "informal_proof": r["informal_proof"],
            }
        )
    repo = dl.DSP_PLUS
    url = f"https://raw.githubusercontent.com/{repo.slug}/{repo.commit}/datasets/minif2f.jsonl"
    body = "\n".join(json.dumps(u, ensure_ascii=False) for u in upstream).encode()
    paths = dl.download("minif2f_dspplus", tmp_path, fetch=lambda u: body if u == url else b"")
    assert sorted(p.name for p in paths) == ["minif2f_dspplus_test.jsonl", "minif2f_dspplus_valid.jsonl"]
    for f in ("minif2f_dsv15_valid.jsonl", "minif2f_dsv15_test.jsonl"):
        (tmp_path / f).write_text((shared_dir / "benchmarks" / f).read_text(encoding="utf-8"), encoding="utf-8")
    ts = load_benchmark("minif2f_dspplus", None, tmp_path)
    assert len(ts) == 488
    flagged = {t.name: t.meta["corrected"] for t in ts if t.meta.get("corrected")}
    assert list(flagged) == ["mathd_numbertheory_618"] and "missing n > 0" in flagged["mathd_numbertheory_618"]
