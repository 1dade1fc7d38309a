"""``prover prove``: naming theorems (benchmark / file / statement), and the command end to end on the REPL
protocol double (scripted generator injected in process; the automation backend through a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import ScriptedGenerator

from prover.cli import main
from prover.errors import UserError
from prover.theorems import load_file_theorem, load_theorem, theorem_from_statement
from search.graph import SearchGraph

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

# --- naming a theorem -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "theorem t (x : Nat) : x + 0 = x := by",
        "theorem t (x : Nat) : x + 0 = x := by sorry",
        "theorem t (x : Nat) : x + 0 = x :=",
        "theorem t (x : Nat) : x + 0 = x",
        "  theorem t (x : Nat) : x + 0 = x := by\n  sorry\n",
    ],
)
def test_statement_forms(text: str) -> None:
    t = theorem_from_statement(text, header="import Mathlib")
    assert t.name == "t" and t.statement == "theorem t (x : Nat) : x + 0 = x := by"
    assert t.header == "import Mathlib" and t.source == "statement"


def test_statement_lemma_example_and_errors() -> None:
    assert theorem_from_statement("lemma foo.bar : True := by").name == "foo.bar"
    assert theorem_from_statement("example : True := by").name == "example"
    with pytest.raises(UserError, match="must start with"):
        theorem_from_statement("def f := 1")
    with pytest.raises(UserError, match="no type"):
        theorem_from_statement("theorem t := by")


LEAN_FILE = """import Mathlib

open Nat -- a comment with := inside

/-- a helper -/
lemma helper (n : ℕ) : n + 0 = n := by simp

namespace Foo

/-- The target; its docstring mentions `theorem target : False := by` -/
@[simp]
theorem target (n : ℕ) (f : ℕ → ℕ := fun x => x) {m : ℕ}
    (h : n = m) : f n = f m := by
  subst h
  rfl

theorem other : True := trivial

end Foo
"""


def test_file_theorem(tmp_path: Path) -> None:
    f = tmp_path / "F.lean"
    f.write_text(LEAN_FILE)
    t = load_file_theorem(f, "target")
    assert t.name == "target"
    assert t.statement.startswith("/-- The target")
    assert t.statement.endswith("(h : n = m) : f n = f m := by")
    assert "@[simp]\ntheorem target" in t.statement
    assert t.header.startswith("import Mathlib") and t.header.rstrip().endswith("namespace Foo")
    assert "lemma helper" in t.header and "theorem other" not in t.header
    assert t.source == f"{f}:12"
    assert load_file_theorem(f, "Foo.other").statement == "theorem other : True := by"
    with pytest.raises(UserError, match="declares helper, target, other"):
        load_file_theorem(f, "nope")
    with pytest.raises(UserError, match="not found"):
        load_file_theorem(tmp_path / "missing.lean", "x")


def test_file_not_utf8_is_a_user_error(tmp_path: Path) -> None:
    f = tmp_path / "bin.lean"
    f.write_bytes(b"\xff\xfe theorem t : True := by")
    with pytest.raises(UserError, match="cannot read it"):
        load_file_theorem(f, "t")


def test_benchmark_theorem_from_dir(tmp_path: Path) -> None:
    row = {
        "name": "easy",
        "split": "valid",
        "header": "import Mathlib\n",
        "formal_statement": "theorem easy : True := by",
    }
    (tmp_path / "mine_valid.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "mine_test.jsonl").write_text(json.dumps({**row, "name": "other", "split": "test"}) + "\n")
    t = load_theorem(benchmark="mine", name="easy", benchmark_dir=tmp_path)
    assert t.statement == "theorem easy : True := by" and t.header == "import Mathlib\n" and t.source == "mine:valid"
    assert t.meta["split"] == "valid"
    with pytest.raises(UserError, match="did you mean easy"):
        load_theorem(benchmark="mine", name="eazy", benchmark_dir=tmp_path)
    with pytest.raises(UserError, match="no mine_valid.jsonl"):
        load_theorem(benchmark="mine", name="easy", split="valid", benchmark_dir=tmp_path / "none")
    with pytest.raises(UserError, match="one way"):
        load_theorem(benchmark="mine", name="easy", statement="theorem x : True := by")


def test_unknown_benchmark_lists_registered_names(tmp_path: Path) -> None:
    """A misspelt benchmark lists the registered names (as `prover batch` does), not every JSONL stem."""
    (tmp_path / "minif2f_known_proofs.jsonl").write_text("")
    with pytest.raises(UserError) as e:
        load_theorem(benchmark="minif3f", name="x", benchmark_dir=tmp_path)
    msg = str(e.value)
    assert "unknown benchmark 'minif3f'" in msg and "did you mean minif2f?" in msg
    assert "proofnet_dsv15" in msg and "minif2f_known_proofs" not in msg
    (tmp_path / "whole.jsonl").write_text("")
    with pytest.raises(UserError, match="drop --split"):
        load_theorem(benchmark="whole", name="x", split="test", benchmark_dir=tmp_path)


def test_shared_minif2f(shared_dir: Path) -> None:
    t = load_theorem(benchmark="minif2f", name="mathd_algebra_10", benchmark_dir=shared_dir / "benchmarks")
    assert t.name == "mathd_algebra_10" and t.statement.endswith(":= by") and "import Mathlib" in t.header
    assert t.source == "minif2f:valid"


# --- the command on the double -----------------------------------------------------------------------

X = "x : Nat\n⊢ x = x"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {"t1": {"goals": [X]}, "_prover_gate_ref": {"goals": [X]}, "bad_statement": {"error": "type mismatch"}},
    "tactics": {X: {"rfl": {"goals": [], "axioms": []}, "bad": {"error": "unknown identifier 'bad'"}}},
}
STMT = "theorem t1 (x : Nat) : x = x := by"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    pytest.importorskip("prover.lean.repl_env")
    if not DOUBLE.is_file():
        pytest.skip("REPL protocol double not present")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cfg = tmp_path / "prover.toml"
    cfg.write_text(
        "[lean]\n"
        f"repl_command = {json.dumps([sys.executable, str(DOUBLE), '--script', str(script)])}\n"
        f"project_dir = {json.dumps(str(tmp_path))}\n"
        "timeout = 5.0\n"
        "[search]\n"
        "max_expansions = 10\n"
    )
    return cfg


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    """Inject a scripted generator where the agent builds one (test tool, never a default)."""
    import prover.models as models

    def use(table):
        gen = ScriptedGenerator(table)
        monkeypatch.setattr(models, "build_generator", lambda cfg: gen, raising=False)
        return gen

    return use


def test_prove_statement_text_output(config_file: Path, scripted, tmp_path: Path, capsys) -> None:
    gen = scripted({X: ["bad", "rfl"]})
    out = tmp_path / "out.lean"
    tree = tmp_path / "tree.json"
    code = main(
        ["prove", "--config", str(config_file), "--statement", STMT, "--header", "import Mathlib",
         "-o", str(out), "--save-tree", str(tree), "--seed", "3"]
    )  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0
    assert stdout.startswith(STMT + "\n  rfl\n")
    assert stdout.splitlines()[-1].startswith("proved t1: 1 expansions, 2 Lean calls")
    assert out.read_text() == f"import Mathlib\n\n{STMT}\n  rfl\n"
    g = SearchGraph.load(tree)
    assert g.proved and g.proof_tactics() == ["rfl"] and [e.kind for e in g.edges] == ["error", "proved"]
    assert gen.seeds == [3]


def test_prove_json_and_overrides(config_file: Path, scripted, capsys) -> None:
    scripted({X: ["bad", "rfl"]})
    code = main(
        ["prove", "--config", str(config_file), "--statement", STMT, "--json",
         "--set", "search.algorithm=mps", "--max-lean-calls", "5", "-n", "4"]
    )  # fmt: skip
    obj = json.loads(capsys.readouterr().out)
    assert code == 0
    assert obj["status"] == "proved" and obj["tactics"] == ["rfl"] and obj["stop_reason"] == "proved"
    assert obj["lean_calls"] == 2 and obj["proof"].endswith("  rfl") and obj["stats"]["expansions"] == 1


def test_prove_not_proved_exits_1(config_file: Path, scripted, capsys) -> None:
    scripted({X: ["bad"]})
    code = main(["prove", "--config", str(config_file), "--statement", STMT, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("not proved t1 (no tactic left to try): 1 expansions, 1 Lean calls")


def test_prove_errors_exit_2(config_file: Path, scripted, capsys) -> None:
    scripted({})
    assert main(["prove", "--config", str(config_file), "--statement", "theorem bad_statement : x := by"]) == 2
    assert "error bad_statement: Lean rejected the statement" in capsys.readouterr().out
    assert main(["prove", "--config", str(config_file), "--benchmark", "minif2f", "--name", "no_such_thm"]) == 2
    assert "prover prove: error:" in capsys.readouterr().err
    assert main(["prove", "--config", str(config_file), "--statement", STMT, "--set", "search.nope=1"]) == 2
    assert "search.nope" in capsys.readouterr().err
    assert main(["prove", "--statement", STMT, "--file", "x.lean"]) == 2


def test_prove_unwritable_output_exits_2_before_search(config_file: Path, scripted, tmp_path: Path, capsys) -> None:
    gen = scripted({X: ["rfl"]})
    missing = tmp_path / "no_such_dir" / "out.lean"
    assert main(["prove", "--config", str(config_file), "--statement", STMT, "-o", str(missing)]) == 2
    assert "prover prove: error: -o" in capsys.readouterr().err
    assert main(["prove", "--config", str(config_file), "--statement", STMT, "--save-tree", str(tmp_path)]) == 2
    assert "prover prove: error: --save-tree" in capsys.readouterr().err
    assert gen.seeds == []  # refused before any search


def test_prove_header_file_not_utf8_exits_2(config_file: Path, scripted, tmp_path: Path, capsys) -> None:
    scripted({X: ["rfl"]})
    hf = tmp_path / "header.lean"
    hf.write_bytes(b"\xff\xfe import Mathlib")
    assert main(["prove", "--config", str(config_file), "--statement", STMT, "--header-file", str(hf)]) == 2
    assert "cannot read it" in capsys.readouterr().err


@pytest.mark.slow
def test_prove_subprocess_with_automation_backend(config_file: Path, tmp_path: Path) -> None:
    """The installed entry point, no injection: the automation backend proposes `bad`, then `rfl`."""
    proc = subprocess.run(
        [sys.executable, "-c", "from prover.cli import entry; entry()", "prove", "--config", str(config_file),
         "--statement", STMT, "--backend", "automation", "--set", "generator.automation=[bad, rfl]", "--json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["status"] == "proved" and obj["tactics"] == ["rfl"]
