"""What a new user sees when a name is mistyped or in another split, and the live line of `prover prove`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from prover.errors import UserError, closest


def test_closest_prefers_the_fewest_typed_characters() -> None:
    names = [f"mathd_algebra_{i}" for i in (10, 11, 13, 17, 31, 51, 101)] + ["imo_1959_p1"]
    # difflib ranked mathd_algebra_51/31/17 above mathd_algebra_10 for a one-character typo (a tie, broken by
    # the string)
    assert closest("mathd_algebra_1O", names)[0] == "mathd_algebra_10"
    assert closest("MATHD_ALGEBRA_10", names)[0] == "mathd_algebra_10"
    assert closest("imo_1959_p", names) == ["imo_1959_p1"]
    assert closest("completely_else", names) == []


def test_a_theorem_in_another_split_is_not_not_found(shared_dir: Path) -> None:
    from prover.theorems import load_benchmark_theorem

    bench = shared_dir / "benchmarks"
    with pytest.raises(UserError, match=r"is in the valid split of 'minif2f', not 'test': use --split valid"):
        load_benchmark_theorem("minif2f", "mathd_algebra_10", bench, "test")
    with pytest.raises(UserError, match=r"not found in benchmark 'minif2f'; did you mean mathd_algebra_10,"):
        load_benchmark_theorem("minif2f", "mathd_algebra_1O", bench, None)


def test_the_live_line_leaves_starting_lean_when_the_search_starts(monkeypatch) -> None:
    """It said "starting Lean…" through the whole first expansion."""
    from rich.console import Console

    from prover.cli.prove import _Progress
    from search.engine import SearchStats

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr("rich.console.Console", lambda **kw: Console(file=tty, force_terminal=True, width=120))
    with _Progress("t1", enabled=True) as p:
        assert p._live is not None
        p._live.refresh()
        assert "starting Lean" in tty.getvalue()
        p.update(SearchStats())  # what the search reports as it starts
        p._live.refresh()
        assert "first expansion" in tty.getvalue().rsplit("starting Lean", 1)[-1]
        p._last = 0.0
        p.update(SearchStats(expansions=2, lean_calls=5))
        p._live.refresh()
        assert "2 expansions, 5 Lean calls" in tty.getvalue()


def test_every_error_has_one_prefix_and_names_its_source(tmp_path: Path, capsys) -> None:
    from prover.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text("[batch]\nattempts = 1\n")
    assert main(["batch", "--benchmark", "minif2f", "--out", str(tmp_path / "r"), "--workers", "0",
                 "--config", str(cfg)]) == 2  # fmt: skip
    assert capsys.readouterr().err == "prover batch: error: --workers: batch.workers: must be at least 1\n"
    bad = ["prove", "--statement", "theorem t : True := by", "--set", 'lean.repl_command=["/nonexistent/repl"]']
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("prover prove: error: LeanSetupError: cannot start the REPL") and err.count("\n") == 1


STMT = "theorem a : True := by"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "a", "formal_statement": STMT, "key": [1]}, "field 'key' must be a string or a number, not a list"),
        ({"name": ["a"], "formal_statement": STMT}, "field 'name' must be a string, not a list"),
        ({"name": "a", "formal_statement": STMT, "id": {"x": 1}}, "field 'id' must be a string or a number, not an"),
    ],
)
def test_a_jsonl_field_of_the_wrong_type_is_one_line(tmp_path: Path, capsys, row: dict, message: str) -> None:
    """`"key": [1]` crashed with `TypeError: unhashable type: 'list'`."""
    import json

    from prover.cli import main

    bench = tmp_path / "b.jsonl"
    ok = {"name": "ok", "formal_statement": "theorem ok : True := by"}
    bench.write_text(json.dumps(ok) + "\n" + json.dumps(row) + "\n")
    assert main(["batch", "--benchmark", str(bench), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"prover batch: error: {bench}:2: {message}") and err.count("\n") == 1


def test_report_on_a_store_of_a_newer_schema_is_one_line(tmp_path: Path, capsys) -> None:
    """`prover batch` refused such a store but `prover report` read it and crashed on a renamed column."""
    from prover.batch.store import ResultStore
    from prover.cli import main

    with ResultStore.in_run_dir(tmp_path) as s:
        s.set_meta("schema_version", 99)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prover report: error: ") and "schema 99, written by a newer prover" in err
    assert err.count("\n") == 1


def test_batch_says_how_long_the_run_can_take(tmp_path: Path, capsys) -> None:
    """244 miniF2F theorems × 600 s on CPU is days: say so before starting."""
    import json

    from prover.cli import main

    bench = tmp_path / "b.jsonl"
    bench.write_text("".join(json.dumps({"name": n, "formal_statement": f"theorem {n} : True := by"}) + "\n"
                             for n in ("a", "b", "c")))  # fmt: skip
    args = ["batch", "--benchmark", str(bench), "--out", str(tmp_path / "r"), "--dry-run", "-k", "2", "-j", "2"]
    assert main([*args, "--time-limit", "600"]) == 0
    assert "at most 30 min of wall time (3 × 2 attempt(s) × search.time_limit 600 s / 2 worker(s);" in (
        capsys.readouterr().err
    )
    assert main([*args, "--set", "search.time_limit=null"]) == 0
    assert "at most" not in capsys.readouterr().err


def test_errors_name_the_action_too(tmp_path: Path, capsys) -> None:
    """`prover data export` errors said `prover data: error:` while argparse's own said `prover data export`."""
    from prover.cli import main

    assert main(["data", "export", str(tmp_path / "nope"), "--kind", "sft", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prover data export: error: ") and err.count("\n") == 1


def test_a_failed_training_start_does_not_claim_the_out_dir(tmp_path: Path, capsys) -> None:
    """A first `prover train sft` with a wrong --data (or --model) left its run file in --out, and the corrected
    command was refused: "holds another training run (data: ...)"."""
    from prover.cli import main

    out = str(tmp_path / "out")
    assert main(["train", "sft", "--data", str(tmp_path / "typo"), "--out", out, "--model", "m"]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert main(["train", "sft", "--data", str(tmp_path / "data"), "--out", out, "--model", "m2"]) == 2
    err = capsys.readouterr().err
    assert "no manifest.json" in err and "another training run" not in err


def test_mutate_without_lean_fails_before_scanning_the_corpus(tmp_path: Path, capsys) -> None:
    """It scanned the whole source tree (minutes on Mathlib) and only then found that Lean is missing."""
    from prover.cli import main

    src = tmp_path / "src"
    (src / "Demo").mkdir(parents=True)
    (src / "Demo" / "A.lean").write_text("theorem a : True := trivial\n")
    args = ["data", "mutate", "--source", str(src), "--out", str(tmp_path / "o"), "--no-progress",
            "--lean-project", str(tmp_path / "no_project")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("prover data mutate: error: LeanSetupError: Lean setup: no Lake project at ")
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_report_of_a_run_with_no_attempt_yet(tmp_path: Path, capsys) -> None:
    """The summary line ended in "attempts: " with nothing after it."""
    from prover.batch.store import ResultStore
    from prover.cli import main

    with ResultStore.in_run_dir(tmp_path):
        pass
    assert main(["report", str(tmp_path), "--no-plots"]) == 0
    assert "attempts: none yet" in capsys.readouterr().out


def test_batch_takes_algorithm_as_prove_does() -> None:
    """README: `prover batch ... --algorithm mps`; batch refused the flag (only `prove` had it)."""
    from prover.cli import build_parser
    from prover.cli.batch import _overrides
    from prover.cli.prove import overrides_from_args

    parser = build_parser()
    batch = parser.parse_args(["batch", "--benchmark", "minif2f", "--out", "r", "--algorithm", "mps"])
    assert _overrides(batch)["search.algorithm"] == "mps"
    prove = parser.parse_args(["prove", "--statement", "theorem t : True := by", "--algorithm", "mps"])
    assert overrides_from_args(prove)["search.algorithm"] == "mps"


def test_a_model_path_that_is_not_there_says_so(tmp_path: Path) -> None:
    """`--model /data/ckpt/fnal` failed with huggingface_hub's "Repo id must be in the form 'repo_name' or
    'namespace/repo_name'"."""
    from prover.models import build_generator
    from prover.models.config import GeneratorConfig
    from prover.models.errors import ModelLoadError

    for name in (str(tmp_path / "runs" / "final"), "runs/sft/fnal", "./ckpt"):
        with pytest.raises(ModelLoadError, match=r"no such folder$"):
            build_generator(GeneratorConfig(backend="hf", model=name, device="cpu"))


def test_no_beam_search_warning_without_a_model(tmp_path: Path, capsys) -> None:
    """`--backend automation -k 2` was told to set generator.decoding=sample: there is no model to sample."""
    import json

    from prover.cli import main

    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"name": "a", "formal_statement": "theorem a : True := by"}) + "\n")
    args = ["batch", "--benchmark", str(bench), "--out", str(tmp_path / "r"), "--dry-run", "-k", "2"]
    assert main(args) == 0
    assert "decodes deterministically" in capsys.readouterr().err  # the default: ReProver, beam search
    assert main([*args, "--backend", "automation"]) == 0
    assert "decodes deterministically" not in capsys.readouterr().err


def test_a_bad_value_of_a_converted_flag_names_the_flag(tmp_path: Path, capsys) -> None:
    """`--kinds rw,foo` was blamed on "the command line (mutate.kinds)"."""
    from prover.cli import main

    assert main(["data", "mutate", "--source", str(tmp_path), "--out", str(tmp_path / "o"), "--kinds", "rw,foo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prover data mutate: error: --kinds rw,foo: mutate.kinds") and err.count("\n") == 1


def test_verbose_after_the_command() -> None:
    """`prover check F.lean -v` was refused ("unrecognized arguments: -v"): -v was only known before the command."""
    from prover.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["check", "F.lean", "-v"]).verbose == 1
    assert parser.parse_args(["-vv", "check", "F.lean"]).verbose == 2
    assert parser.parse_args(["data", "export", "x", "--kind", "sft", "--out", "o", "-vv"]).verbose == 2
    assert parser.parse_args(["prove", "--statement", "theorem t : True := by"]).verbose == 0
