"""``prover repair FILE --theorem NAME`` and ``prover prove / batch --mode …`` end to end on the REPL protocol
double (whole-proof generators injected in process: a test tool, never a default). How the double's answers
follow Lean's: see tests/test_repair_loop.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prover.cli import main
from prover.models.base import ProofCandidate
from repair.config import APOLLO_CHAIN

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"

G = "x : ℕ\nh : x = 2\n⊢ x + x = 4"
STMT = "theorem t (x : ℕ) (h : x = 2) : x + x = 4 := by"
FILE = f"import Mathlib\n\n-- a user's file\n{STMT}\n  nlinarith [h]\n\ntheorem other : True := trivial\n"
SCRIPT = {
    "theorems": {"t": {"goals": [G]}, "u": {"goals": [G]}},
    "tactics": {G: {"nlinarith [h]": {"error": "linarith failed to find a contradiction"},
                    APOLLO_CHAIN: {"goals": []}}},
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cfg = tmp_path / "prover.toml"
    cfg.write_text(
        "[lean]\n"
        f"repl_command = {json.dumps([sys.executable, str(DOUBLE), '--script', str(script)])}\n"
        f"project_dir = {json.dumps(str(tmp_path))}\n"
        "timeout = 5.0\n"
        "[repair]\n"
        "samples = 2\n"
    )
    return cfg


class ScriptedProofs:
    """Every sample: the theorem's statement followed by ``proof``."""

    def __init__(self, proof: str) -> None:
        self.proof = proof

    def generate(self, theorems, n, *, feedback=None, seed=None):
        return [[ProofCandidate(f"{t.statement}\n{self.proof}", raw="") for _ in range(n)] for t in theorems]

    def close(self) -> None:
        pass


def test_repair_file_prints_the_repaired_proof(config_file: Path, tmp_path: Path, capsys) -> None:
    f = tmp_path / "Proof.lean"
    f.write_text(FILE)
    out = tmp_path / "Fixed.lean"
    code = main(["repair", str(f), "--theorem", "t", "--no-model", "--config", str(config_file), "-o", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert stdout.startswith(f"{STMT}\n  {APOLLO_CHAIN}\n")
    assert stdout.splitlines()[-1].startswith("repaired t (automation): ")
    assert out.read_text() == FILE.replace("  nlinarith [h]", "  " + APOLLO_CHAIN)


def test_repair_file_prints_the_goals_left(config_file: Path, tmp_path: Path, capsys) -> None:
    f = tmp_path / "Proof.lean"
    f.write_text(FILE)
    code = main(["repair", str(f), "--theorem", "t", "--no-model", "--config", str(config_file),
                 "--set", "repair.automation=[omega]", "--json"])  # fmt: skip
    obj = json.loads(capsys.readouterr().out)
    assert code == 1 and not obj["repaired"]
    assert obj["text"] == f"{STMT}\n  sorry\n"
    assert obj["remaining"] == [{"goal": G, "line": 2, "column": 2, "lemma": None}]
    code = main(["repair", str(f), "--theorem", "t", "--no-model", "--config", str(config_file),
                 "--set", "repair.automation=[omega]"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 1 and f"-- 2:2\n{G}\n" in text and "1 goal(s) left" in text


def test_repair_bad_input_is_one_line(config_file: Path, tmp_path: Path, capsys) -> None:
    assert main(["repair", str(tmp_path / "missing.lean"), "--theorem", "t", "--config", str(config_file)]) == 2
    f = tmp_path / "Proof.lean"
    f.write_text(FILE)
    assert main(["repair", str(f), "--theorem", "nope", "--config", str(config_file), "--no-model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not found" in err


def test_prove_mode_repair_and_whole(config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import prover.models as models

    monkeypatch.setattr(models, "build_proof_generator", lambda cfg, backends=None: ScriptedProofs("  nlinarith [h]"))
    code = main(["prove", "--config", str(config_file), "--statement", STMT, "--mode", "repair", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["mode"] == "repair" and obj["stage"] == "automation" and obj["samples"] == 2
    code = main(["prove", "--config", str(config_file), "--statement", STMT, "--mode", "whole"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("not proved t (whole: ") and "2 samples" in out


def test_batch_mode_repair_records_stage(config_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import prover.models as models
    from prover.batch.store import ResultStore

    monkeypatch.setattr(models, "build_proof_generator", lambda cfg, backends=None: ScriptedProofs("  nlinarith [h]"))
    bench = tmp_path / "bench.jsonl"
    rows = [{"name": "t", "formal_statement": STMT, "split": "test"},
            {"name": "u", "formal_statement": STMT.replace("theorem t", "theorem u"), "split": "test"}]
    bench.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run = tmp_path / "run"
    code = main(["batch", "--config", str(config_file), "--benchmark", str(bench), "--mode", "repair",
                 "--out", str(run), "--workers", "1", "--no-progress"])  # fmt: skip
    assert code == 0
    store = ResultStore(run / "results.sqlite", readonly=True)
    got = {r["theorem"]: r for r in store.conn.execute("SELECT * FROM attempts").fetchall()}
    assert {r["status"] for r in got.values()} == {"proved"}
    assert {r["mode"] for r in got.values()} == {"repair"} and {r["stage"] for r in got.values()} == {"automation"}
    assert all(r["samples"] == 2 for r in got.values())
    report = json.loads((run / "report.json").read_text())
    assert report["stages"]["stages"] == {"automation": 2}
    assert report["stages"]["accuracy_vs_samples"]["2"] == 1.0
    page = (run / "report.html").read_text()
    assert "<h2>Whole-proof stages</h2>" in page and "<td class=l>automation</td><td>2</td>" in page
