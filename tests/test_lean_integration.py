"""Integration tests on real Lean: the REPL built in lean_project/ (see scripts/setup_lean.sh).

All are marked ``lean``; conftest.py skips them with a reason when ``lake`` or the built project is
missing. They load Mathlib, so the first one takes a while (tens of seconds).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SHARED

from prover.cli import main
from prover.lean.config import LeanConfig
from prover.lean.types import (
    CommandResult,
    LeanError,
    LeanInputError,
    ProofFinished,
    TacticState,
    Theorem,
    parse_command_response,
    parse_tactic_response,
)

pytestmark = pytest.mark.lean

REPO = Path(__file__).resolve().parents[1]
HEADER = "import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat Topology Rat"
COMM = Theorem("add_comm_t", "theorem add_comm_t (a b : ℕ) : a + b = b + a := by", header=HEADER)


@pytest.fixture(scope="module")
def config() -> LeanConfig:
    return LeanConfig(timeout=120, header_timeout=900)


@pytest.fixture(scope="module")
def env(config: LeanConfig):
    from prover.lean.repl_env import ReplEnv

    with ReplEnv(config) as e:
        yield e


def test_project_resolves_and_version(config: LeanConfig) -> None:
    from prover.lean.project import diagnose, resolve_repl_command

    assert all(c.ok for c in diagnose(config) if c.required), diagnose(config)
    cmd, cwd = resolve_repl_command(config)
    assert cmd[1] == "env" and cmd[2].endswith("bin/repl") and cwd == config.project_dir.resolve()


def test_tactic_steps_on_real_lean(env) -> None:
    root = env.start(COMM)
    assert isinstance(root, TacticState) and "⊢ a + b = b + a" in root.pp
    assert isinstance(env.run_tactic(root, "exact my_fake_premise"), LeanError)
    assert isinstance(env.run_tactic(root, "sorry"), LeanError)
    s = env.run_tactic(root, "induction a with\n| zero => simp\n| succ n ih => omega")
    assert isinstance(s, ProofFinished)
    assert isinstance(env.run_tactic(root, "omega"), ProofFinished)
    bad = Theorem("bad_t", "theorem bad_t (a : ℕ) : a + undefined_thing = a := by", header=HEADER)
    with pytest.raises(LeanInputError, match="^bad_t: "):
        env.start(bad)
    assert env.lean_version and env.lean_version.startswith("4.24")


def test_gate_on_real_lean(env) -> None:
    assert env.check(COMM, COMM.with_proof("omega")).sound
    res = env.check(COMM, COMM.with_proof("exact Nat.add_comm a b"))
    assert res.sound and set(res.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
    res = env.check(COMM, COMM.with_proof("sorry"))
    assert not res.sound and "contains sorry" in res.reasons
    dec = Theorem("dec_t", "theorem dec_t : 2 ^ 10 = 1024 := by", header=HEADER)
    res = env.check(dec, dec.with_proof("native_decide"))
    assert not res.sound and any("Lean.ofReduceBool" in r for r in res.reasons)
    assert env.check(dec, dec.with_proof("norm_num")).sound
    res = env.check(COMM, COMM.with_proof("simp [this_does_not_exist]"))
    assert not res.sound and res.messages and res.messages[0].is_error
    # repl issue #44: a proof that refers to the theorem itself
    ex = Theorem("ex_false", "theorem ex_false : False := by", header=HEADER)
    assert not env.check(ex, ex.with_proof("exact ex_false")).sound
    # a changed statement, and notation redefined before an unchanged one
    assert not env.check(COMM, "theorem add_comm_t (a b : ℕ) : a + b = a + b := by\n  rfl").sound
    trick = 'local notation "ℕ" => Bool\n' + COMM.with_proof("decide +revert")
    assert not env.check(COMM, trick).sound
    # several lemmas: the target's audit covers the helper
    helper = "lemma helper_t (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n\n"
    assert env.check(COMM, helper + COMM.with_proof("exact helper_t a b")).sound
    # an example
    exm = Theorem("example", "example (a : ℕ) : a + 0 = a := by", header=HEADER)
    assert env.check(exm, exm.with_proof("simp")).sound


def test_prover_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = tmp_path / "Good.lean"
    good.write_text(HEADER + "\n\ntheorem g (a b : ℕ) : a + b = b + a := by\n  omega\n")
    assert main(["check", str(good)]) == 0
    assert "OK, sound" in capsys.readouterr().out
    bad = tmp_path / "Bad.lean"
    bad.write_text(HEADER + "\n\ntheorem g (a b : ℕ) : a + b = b + a := by\n  exact foo\n")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:7:" in out and "error" in out


CLASSIFY = ["invalid_tactic", "proof_step", "tactic_mode_sorry", "unknown_proof_state", "by_cases", "readme"]


@pytest.mark.shared("fixtures", "repl", "test")
@pytest.mark.parametrize("name", CLASSIFY)
def test_transcripts_classify_the_same_live(config: LeanConfig, name: str) -> None:
    """The recorded answers (Lean 4.33) and live answers (lean_project's Lean) get the same result types."""
    from prover.lean.record import read_transcript
    from prover.lean.repl import ReplProcess, request_kind

    pairs = read_transcript(SHARED / "fixtures" / "repl" / "test" / f"{name}.in")
    with ReplProcess(config) as proc:
        for req, want in pairs:
            got = proc.request(req)
            parse = parse_tactic_response if request_kind(req) == "tactic" else parse_command_response
            a, b = parse(want), parse(got)
            assert type(a) is type(b), (req, want, got)
            if isinstance(a, TacticState):
                assert a.goals == b.goals
            if isinstance(a, CommandResult):
                assert len(a.sorries) == len(b.sorries) and bool(a.errors) == bool(b.errors)


@pytest.mark.skipif(not os.environ.get("PROVER_DOJO_THEOREM"), reason="set PROVER_DOJO_THEOREM to a JSON Theorem")
def test_dojo_env_on_a_traced_repo() -> None:
    """PROVER_DOJO_THEOREM='{"name": ..., "statement": ..., "meta": {"repo":..,"commit":..,"file_path":..}}'."""
    from prover.lean.dojo import DojoEnv

    th = Theorem(**json.loads(os.environ["PROVER_DOJO_THEOREM"]))
    with DojoEnv() as env:
        root = env.start(th)
        assert isinstance(root, TacticState)
        assert isinstance(env.run_tactic(root, "exact this_is_not_a_premise"), LeanError)


# ---------------------------------------------------------------------------------------------------
# End to end on real Lean with the automation portfolio (no model needed).

AUTOMATION = ["--set", "generator.backend=automation", "--max-expansions", "4", "--no-progress"]


def test_prover_prove_cli_on_real_lean(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stmt = "theorem e2e_omega (a b : ℕ) (ha : a = 2) (hb : b = 3) : a + b = 5 := by"
    out = tmp_path / "proof.lean"
    code = main(["prove", "--statement", stmt, "--header", HEADER, "--json", "-o", str(out), *AUTOMATION])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["status"] == "proved", res
    assert out.read_text().startswith("import Mathlib") and "e2e_omega" in out.read_text()
    assert main(["check", str(out)]) == 0  # what `prove` wrote is a file Lean accepts as is
    false_stmt = "theorem e2e_false : (2 : ℕ) + 2 = 5 := by"
    assert main(["prove", "--statement", false_stmt, "--header", HEADER, *AUTOMATION]) == 1


def test_prover_batch_on_real_lean(tmp_path: Path) -> None:
    rows = [
        ("b_rfl", "theorem b_rfl : (2 : ℕ) + 2 = 4 := by"),
        ("b_linarith", "theorem b_linarith (x : ℝ) (h : 2 * x = 4) : x = 2 := by"),
        ("b_tauto", "theorem b_tauto (p q : Prop) (hp : p) (hq : q) : p ∧ q := by"),
        ("b_false", "theorem b_false : (2 : ℕ) + 2 = 5 := by"),
    ]
    bench = tmp_path / "mini.jsonl"
    lines = [json.dumps({"name": n, "split": "test", "header": HEADER, "formal_statement": s}) for n, s in rows]
    bench.write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    args = ["batch", "--benchmark", str(bench), "--out", str(run), "--workers", "2", *AUTOMATION]
    assert main(args) == 0
    report = json.loads((run / "report.json").read_text())
    assert report["all"]["pass_at_k"]["1"] == pytest.approx(3 / 4)
    proofs = [json.loads(line) for line in (run / "proofs.jsonl").read_text().splitlines()]
    assert sorted(p["name"] for p in proofs) == ["b_linarith", "b_rfl", "b_tauto"]
    assert main(args) == 0  # resume: nothing left to do, same numbers
    assert json.loads((run / "report.json").read_text())["all"]["pass_at_k"]["1"] == pytest.approx(3 / 4)
