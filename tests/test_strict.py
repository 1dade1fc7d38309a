"""Strict mode (`prover.lean.strict`): parsing comparator's answers, the challenge / solution it is given, its
invocation (through a stand-in binary, `tests/double/comparator_double.py`), ReplEnv and `prover check
--strict` on the REPL protocol double, the store's record of the mode, and `prover doctor`'s checks.

No comparator runs here (it needs Lean); its real runs are the `lean`-marked tests of
`tests/test_gate_adversarial.py`. The outputs below are comparator's own wording, from its sources at the
pinned commit (branch pre-v25, 97ef939): `Main.lean` prints "Building M", "Exporting #[...] from M",
"Running Lean default kernel on solution.", "Lean default kernel accepts the solution", "Your solution is
okay!"; `Comparator/Compare.lean` and `Comparator/Axioms.lean` throw the mismatch / axiom messages; an error
escaping `main` is printed by Lean's runtime as "uncaught exception: MSG" with exit status 1. Which of its
test projects (`tests/projects/*`, with `test.json` exit codes) each case mirrors is named per case.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from prover.batch.store import AttemptRow, ResultStore
from prover.cli import main
from prover.lean.config import LeanConfig
from prover.lean.project import toolchain_dir
from prover.lean.strict import (
    COMPARATOR_BIN,
    COMPARATOR_REV,
    LANDRUN_BIN,
    LEAN4EXPORT_BIN,
    STRICT_LIB,
    ComparatorChecker,
    StrictJob,
    job_for_file,
    job_for_theorem,
    parse_comparator_output,
    strict_checks,
)
from prover.lean.types import LeanCrashed, LeanSetupError, LeanTimeout, Theorem

REPO = Path(__file__).resolve().parents[1]
COMPARATOR_DOUBLE = REPO / "tests" / "double" / "comparator_double.py"
REPL_DOUBLE = REPO / "tests" / "double" / "repl_double.py"
TOOLCHAIN = "leanprover/lean4:v4.24.0"
C, S = "ProverStrict.J1.Challenge", "ProverStrict.J1.Solution"


def run_lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


PROGRESS = run_lines(
    f"Building {C}",
    f"Exporting #[comm, propext, Quot.sound, Classical.choice, Nat.add] from {C}",
    f"Building {S}",
    f"Exporting #[comm, propext, Quot.sound, Classical.choice, Nat.add] from {S}",
)

# (case, exit status, stdout, stderr, ok, reason fragment, setup error 0/1)
RECORDED = [
    # tests/projects/simple_match: exit 0
    (
        "simple_match",
        0,
        PROGRESS
        + run_lines(
            "Running Lean default kernel on solution.",
            "Lean default kernel accepts the solution",
            "Your solution is okay!",
        ),
        "",
        True,
        None,
        0,
    ),
    # tests/projects/simple_axiom_issue: `axiom helper` used by the proof (Axioms.lean)
    ("simple_axiom_issue", 1, PROGRESS, "uncaught exception: Illegal axiom detected: 'helper'\n", 0, "axiom helper", 0),
    # tests/projects/simple_mismatch: the solution's `comm` is an axiom of another type (Compare.lean)
    (
        "simple_mismatch",
        1,
        PROGRESS,
        "uncaught exception: Challenge and solution constant kind don't match: 'comm'\n",
        False,
        "comm is not the same kind",
        0,
    ),
    # statement identity (Compare.lean, thmInfo vs thmInfo with another type)
    (
        "statement",
        1,
        PROGRESS,
        "uncaught exception: Challenge and solution theorem statement do not match: 'comm'\n",
        False,
        "statement of comm differs",
        0,
    ),
    # tests/projects/primitive_issue: a redefined Nat.gcd used by the kernel (Compare.lean's loop)
    (
        "primitive_issue",
        1,
        PROGRESS,
        "uncaught exception: Const does not match between challenge and target 'Nat.gcd'\n",
        False,
        "Nat.gcd, used by the statement, differs",
        0,
    ),
    # tests/projects/olean_issue: `run_elab addDecl` of a bad literal; the kernel replay throws
    (
        "olean_issue",
        1,
        PROGRESS + "Running Lean default kernel on solution.\n",
        "uncaught exception: (kernel) declaration type mismatch, 'badNat' has type\n  Nat\n",
        False,
        "kernel rejects it",
        0,
    ),
    # the solution does not build in the sandbox (runSandBoxed: "Child exited with N")
    (
        "solution_build",
        1,
        run_lines(f"Building {C}", f"Exporting #[comm] from {C}", f"Building {S}", "error: unknown identifier 'x'"),
        "uncaught exception: Child exited with 1\n",
        False,
        "does not build as a module",
        0,
    ),
    # the challenge itself fails: the checker's setup, never a verdict on the proof
    ("challenge_build", 1, f"Building {C}\n", "uncaught exception: Child exited with 1\n", False, "could not check", 1),
    ("no_landrun", 1, "", "uncaught exception: could not execute external process 'landrun'\n", False, "could not", 1),
]


@pytest.mark.parametrize(("case", "rc", "out", "err", "ok", "why", "setup"), RECORDED, ids=[r[0] for r in RECORDED])
def test_parse_comparator_output(case: str, rc: int, out: str, err: str, ok: int, why: str | None, setup: int) -> None:
    v = parse_comparator_output(rc, out, err, challenge=C, solution=S)
    assert v.ok is bool(ok) and v.setup_error is bool(setup), v
    if why:
        assert v.reason and why in v.reason, v.reason
    # killed by a signal (directly, or as `lake env`'s shell reports it): neither a verdict nor a setup error
    for rc in (-9, 137):
        v = parse_comparator_output(rc, run_lines(f"Building {C}", f"Building {S}"), "", challenge=C, solution=S)
        assert v.crashed and not v.ok and not v.setup_error, v
    # a zero exit without comparator's last line is not a pass
    assert not parse_comparator_output(0, PROGRESS, "", challenge=C, solution=S).ok


# ---------------------------------------------------------------------------------------------------
# What comparator is given


def test_job_for_theorem() -> None:
    th = Theorem("t1", "theorem t1 (x : ℕ) : x + 0 = x := by", header="import Mathlib\nopen Nat\n")
    text = "import Mathlib\nimport Aesop\n\nlemma h : True := trivial\n" + th.with_proof("simp")
    job = job_for_theorem(th, text, "import Mathlib\nimport Aesop\nopen Nat\n")
    assert job.challenge == "import Mathlib\nimport Aesop\nopen Nat\n\ntheorem t1 (x : ℕ) : x + 0 = x := by sorry\n"
    assert job.solution.startswith("import Mathlib\nimport Aesop\nopen Nat\n\n\nlemma h : True := trivial\ntheorem t1")
    assert job.theorem_names == ("t1",)
    ex = Theorem("ex", "example (x : ℕ) : x = x := by", header="import Mathlib")
    job = job_for_theorem(ex, ex.with_proof("rfl"), "import Mathlib")
    assert "noncomputable def prover_strict_example_0 (x : ℕ) : x = x := by sorry" in job.challenge
    assert "noncomputable def prover_strict_example_0 (x : ℕ) : x = x := by\n  rfl" in job.solution
    assert job.theorem_names == () and job.definition_names == ("prover_strict_example_0",)


def test_job_for_file_sorries_the_proofs_only() -> None:
    text = (
        "import Mathlib\n\ndef f (n : ℕ) : ℕ := n + 1\n\ntheorem a : f 1 = 2 := by\n  rfl\n\n"
        "namespace N\nlemma b (x : ℕ) : x = x := rfl\nend N\nexample : True := trivial\n"
    )
    job = job_for_file(text)
    assert job.theorem_names == ("a", "N.b") and job.definition_names == ("prover_strict_example_0",)
    assert "def f (n : ℕ) : ℕ := n + 1" in job.challenge  # definitions keep their bodies
    assert "theorem a : f 1 = 2 := sorry" in job.challenge and "lemma b (x : ℕ) : x = x := sorry" in job.challenge
    assert "noncomputable def prover_strict_example_0 : True := sorry" in job.challenge
    assert "rfl" not in job.challenge and job.solution.count("def prover_strict_example_0") == 1
    assert job_for_file(text, ["a"]).theorem_names == ("a",)


# ---------------------------------------------------------------------------------------------------
# Invocation, through the comparator stand-in


def _exe(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(0o755)


@pytest.fixture
def strict_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Lean project with comparator, lean4export and landrun where strict mode looks for them; `lake env X`
    runs X (as Lake does, with the project's environment)."""
    home = tmp_path / "elan"
    monkeypatch.setenv("ELAN_HOME", str(home))
    _exe(toolchain_dir(TOOLCHAIN) / "bin" / "lake", '#!/bin/sh\n[ "$1" = env ] && shift\nexec "$@"\n')
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text(TOOLCHAIN + "\n")
    (project / "lake-manifest.json").write_text(
        json.dumps({"packages": [{"name": "Comparator", "rev": COMPARATOR_REV, "inherited": False}]})
    )
    (project / ".lake" / "packages" / "Comparator").mkdir(parents=True)
    (project / ".lake" / "packages" / "Comparator" / "lean-toolchain").write_text(TOOLCHAIN + "\n")
    _exe(project / COMPARATOR_BIN, f"#!{sys.executable}\n" + COMPARATOR_DOUBLE.read_text())
    _exe(project / LEAN4EXPORT_BIN, "#!/bin/sh\nexit 0\n")
    _exe(project / LANDRUN_BIN, '#!/bin/sh\necho "landrun version 0.1.8"\n')
    return project


JOB = StrictJob(
    "import Mathlib\n\ntheorem comm : 1 = 1 := sorry\n", "import Mathlib\n\ntheorem comm : 1 = 1 := rfl\n", ("comm",)
)


def test_invocation_and_verdicts(strict_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checker = ComparatorChecker(LeanConfig(project_dir=strict_project, verify="strict"))
    argv, env = checker.command(strict_project / "x.json")
    assert argv[1:] == ["env", str(strict_project / COMPARATOR_BIN), str(strict_project / "x.json")]
    assert argv[0] == str(toolchain_dir(TOOLCHAIN) / "bin" / "lake")
    path = env["PATH"].split(os.pathsep)
    assert path[:3] == [
        str((strict_project / LEAN4EXPORT_BIN).parent),
        str((strict_project / LANDRUN_BIN).parent),
        str(toolchain_dir(TOOLCHAIN) / "bin"),
    ]
    assert checker.check(JOB, ["propext"]).ok
    assert not (strict_project / STRICT_LIB).exists() or not any((strict_project / STRICT_LIB).iterdir())  # cleaned
    monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "axiom:helper")
    v = checker.check(JOB, ["propext"])
    assert not v.ok and v.reason == "strict: uses the axiom helper, which is not permitted"
    monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "challenge-build")
    with pytest.raises(LeanSetupError, match="could not check the original statement"):
        checker.check(JOB, ["propext"])
    monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "killed")  # no verdict: an infrastructure failure, redone
    with pytest.raises(LeanCrashed, match="comparator was killed"):
        checker.check(JOB, ["propext"])
    monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "sleep:5")
    with pytest.raises(LeanTimeout):
        ComparatorChecker(LeanConfig(project_dir=strict_project, verify="strict"), timeout=0.5).check(JOB, [])


def test_missing_checker_is_a_setup_error(strict_project: Path) -> None:
    (strict_project / LANDRUN_BIN).unlink()
    cfg = LeanConfig(project_dir=strict_project, verify="strict")
    with pytest.raises(LeanSetupError, match="landrun"):
        ComparatorChecker(cfg).check(JOB, [])
    checks = {c.name: c for c in strict_checks(cfg)}
    assert not checks["landrun sandbox (strict mode)"].ok and checks["landrun sandbox (strict mode)"].required
    assert checks["comparator (strict mode)"].ok and checks["lean4export (strict mode)"].ok
    # only required when lean.verify = strict; a moved pin is reported
    (strict_project / "lake-manifest.json").write_text(json.dumps({"packages": [{"name": "Comparator", "rev": "abc"}]}))
    checks2 = strict_checks(LeanConfig(project_dir=strict_project))
    assert not any(c.required for c in checks2) and any("expects 97ef939c9fe3" in c.found for c in checks2)


def test_the_projects_manifest_pins_comparator_and_its_dependencies() -> None:
    """lean_project/ requires comparator (pre-v25) and the manifest lists it with lean4export and lean4checker at
    the commits comparator's own manifest pins for v4.24.0."""
    manifest = json.loads((REPO / "lean_project" / "lake-manifest.json").read_text())
    pk = {p["name"]: p for p in manifest["packages"]}
    assert pk["Comparator"]["rev"] == COMPARATOR_REV and not pk["Comparator"]["inherited"]
    assert pk["lean4export"]["rev"] == "f7f95b22c1bff79cfbec7f32c13ced73a1b4fdcd" and pk["lean4export"]["inherited"]
    assert pk["lean4checker"]["rev"] == "da26eb05e9959402afcb9bd6dfe5dc4f700f70d6"
    lakefile = (REPO / "lean_project" / "lakefile.toml").read_text()
    assert COMPARATOR_REV in lakefile and 'name = "ProverStrict"' in lakefile
    assert (REPO / "lean_project" / "lean-toolchain").read_text().strip() == TOOLCHAIN
    report = {c.name: c for c in strict_checks(LeanConfig(project_dir=REPO / "lean_project"))}
    assert "not in the project's" not in report["comparator (strict mode)"].found


# ---------------------------------------------------------------------------------------------------
# ReplEnv, prover check --strict, the store


GOAL = "x : Nat\n⊢ x = x"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {"t1": {"goals": [GOAL]}},
    "tactics": {GOAL: {"rfl": {"goals": [], "axioms": []}}},
}
T1 = Theorem("t1", "theorem t1 (x : Nat) : x = x := by", header="import Mathlib")


@pytest.fixture
def strict_config(strict_project: Path, tmp_path: Path) -> LeanConfig:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cmd = [sys.executable, str(REPL_DOUBLE), "--script", str(script)]
    return LeanConfig(project_dir=strict_project, repl_command=cmd, verify="strict", timeout=20, header_timeout=20)


def test_repl_env_runs_the_checker_after_the_gate(strict_config: LeanConfig, monkeypatch) -> None:
    from prover.lean.repl_env import ReplEnv

    with ReplEnv(strict_config) as env:
        res = env.check(T1, T1.with_proof("rfl"))
        assert res.sound and res.verified_by == "strict", res.reasons
        monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "statement:t1")
        res = env.check(T1, T1.with_proof("rfl"))
        assert not res.sound and res.reasons == ("strict: the statement of t1 differs from the original",)
        # the checker runs only after the REPL gate accepts: a rejected text never reaches it
        monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "challenge-build")  # would raise if it ran
        res = env.check(T1, T1.with_proof("rfl") + "\n#eval 1")
        assert not res.sound and res.verified_by == "repl"
    with ReplEnv(strict_config.model_copy(update={"verify": "repl"})) as env:
        assert env.check(T1, T1.with_proof("rfl")).verified_by == "repl"


def test_prover_check_strict(strict_config: LeanConfig, tmp_path: Path, capsys, monkeypatch) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "lean:\n"
        f"  project_dir: {json.dumps(str(strict_config.project_dir))}\n"
        f"  repl_command: {json.dumps(strict_config.repl_command)}\n  timeout: 20\n  header_timeout: 20\n"
    )
    f = tmp_path / "F.lean"
    f.write_text("import Mathlib\n\ntheorem t1 (x : Nat) : x = x := by\n  rfl\n")
    assert main(["check", str(f), "--config", str(cfg), "--strict"]) == 0
    assert "strict: comparator agrees" in capsys.readouterr().out
    monkeypatch.setenv("COMPARATOR_DOUBLE_CASE", "kernel:(kernel) declaration has metavariables 't1'")
    assert main(["check", str(f), "--config", str(cfg), "--strict", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verified_by"] == "strict" and "kernel rejects it" in out["reasons"][-1]
    # a module-system file: refused by the REPL gate with a reason, checked by comparator alone in strict mode
    m = tmp_path / "M.lean"
    m.write_text("module\n\npublic import Mathlib\n\npublic theorem t1 (x : Nat) : x = x := by\n  rfl\n")
    monkeypatch.delenv("COMPARATOR_DOUBLE_CASE")
    assert main(["check", str(m), "--config", str(cfg)]) == 1
    assert "--strict" in capsys.readouterr().out
    assert main(["check", str(m), "--config", str(cfg), "--strict"]) == 0


def test_store_records_the_mode(tmp_path: Path) -> None:
    with ResultStore.in_run_dir(tmp_path) as s:
        s.record(AttemptRow("a", 0, "proved", proof="theorem a : True := trivial", verified_by="strict"))
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    assert conn.execute("SELECT verified_by FROM attempts").fetchone() == ("strict",)
    conn.close()
