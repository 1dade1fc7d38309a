"""The typed config: files, overrides, and one-line errors for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prover.config import load_config
from prover.errors import UserError


def test_defaults_are_valid() -> None:
    cfg = load_config()
    assert cfg.lean.timeout > 0
    assert set(cfg.lean.allowed_axioms) == {"propext", "Classical.choice", "Quot.sound"}


def test_toml_and_yaml_with_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[search]\nmax_expansions = 7\n[lean]\ntimeout = 3.5\n')
    cfg = load_config(toml, ["search.max_expansions=9", "lean.num_processes=2"])
    assert cfg.search.max_expansions == 9
    assert cfg.lean.timeout == 3.5
    assert cfg.lean.num_processes == 2

    yml = tmp_path / "c.yaml"
    yml.write_text("search:\n  time_limit: 12\n")
    assert load_config(yml, {"search.max_depth": 3}).search.max_depth == 3
    assert load_config(yml).search.time_limit == 12


@pytest.mark.parametrize(
    ("text", "suffix", "needle"),
    [
        ("[search]\nmax_expansions = 'many'\n", ".toml", "search.max_expansions"),
        ("[search]\nno_such_key = 1\n", ".toml", "search.no_such_key"),
        ("[search\n", ".toml", "c.toml"),
        ("- a\n- b\n", ".yaml", "top level"),
        ("x = 1", ".ini", "use .toml"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str, suffix: str, needle: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        load_config(path)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file_and_bad_override(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(UserError, match="SECTION.KEY=VALUE"):
        load_config(None, ["search.max_expansions"])


def test_preset_flag_switches_the_generator_in_one_flag() -> None:
    from prover.cli import build_parser
    from prover.cli.common import config_overrides

    for cmd in (["prove", "--statement", "theorem t : True := by"], ["batch", "--benchmark", "minif2f", "--out", "r"]):
        args = build_parser().parse_args([*cmd, "--preset", "gpu"])
        cfg = load_config(None, config_overrides(args))
        assert cfg.generator.backend == "vllm" and "BFS-Prover" in cfg.generator.model
    assert load_config().generator.backend == "hf"  # the CPU default without the flag


def _cli_config(argv: list[str]):
    """The config `prover batch ARGV` runs with."""
    from prover.cli import build_parser
    from prover.cli.batch import _overrides

    args = build_parser().parse_args(argv)
    return load_config(args.config, _overrides(args))


BATCH = ["batch", "--benchmark", "minif2f", "--out", "r"]


def test_set_null_lifts_a_limit() -> None:
    assert _cli_config([*BATCH, "--set", "search.time_limit=null"]).search.time_limit is None
    assert _cli_config([*BATCH, "--set", "search.max_expansions="]).search.max_expansions is None
    assert load_config(None, ["search.time_limit=null"]).search.time_limit is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "lean.timeout=0"], "--set lean.timeout=0: lean.timeout: Input should be greater than 0"),
        (["--set", "lean.timeout=-1"], "--set lean.timeout=-1: lean.timeout: Input should be greater than 0"),
        (["--time-limit", "-5"], "--time-limit: search.time_limit: Input should be greater than 0"),
        (["--max-expansions", "0"], "--max-expansions: search.max_expansions: Input should be greater than or equal"),
        (["--workers", "0"], "--workers: batch.workers: must be at least 1"),
        (["--set", "search.tactic_timeout=0"], "--set search.tactic_timeout=0: search.tactic_timeout: Input should be"),
        (["--set", "search.max_crashes=0"], "search.max_crashes: Input should be greater than or equal to 1"),
        (["--set", "batch.max_tries=0"], "batch.max_tries: Input should be greater than or equal to 1"),
        (["--set", "lean.timeout=null"], "--set lean.timeout=null: lean.timeout: Input should be a valid number"),
        (["--set", "batch.ray_completion_actors=-1"], "batch.ray_completion_actors: Input should be greater than"),
        (["--set", "batch.ray_completion_gpus=-0.5"], "batch.ray_completion_gpus: Input should be greater than"),
    ],
)
def test_values_that_would_be_stored_as_results_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(UserError) as e:
        _cli_config([*BATCH, *argv])
    assert str(e.value).startswith(message) or message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_an_error_names_what_set_the_bad_value(tmp_path: Path) -> None:
    """`--workers 0 --config c.toml` blamed the config file; the file's line is given when it is the source."""
    toml = tmp_path / "c.toml"
    toml.write_text("[search]\nmax_expansions = 10\n\n[batch]\nattempts = 2\nworkers = 0\n")
    with pytest.raises(UserError, match=r"^--workers: batch.workers: must be at least 1$"):
        _cli_config([*BATCH, "--workers", "0", "--config", str(toml), "--set", "batch.workers=2"])
    with pytest.raises(UserError, match=rf"^config file {re.escape(str(toml))}, line 6: batch.workers: must be"):
        _cli_config([*BATCH, "--config", str(toml)])
    yml = tmp_path / "c.yaml"
    yml.write_text("search:\n  max_expansions: 10\nlean:\n  timeout: 0\n")
    with pytest.raises(UserError, match=rf"^config file {re.escape(str(yml))}, line 4: lean.timeout: Input should be"):
        load_config(yml)


def test_yaml_syntax_errors_have_a_line_number(tmp_path: Path) -> None:
    yml = tmp_path / "c.yaml"
    yml.write_text("search:\n  max_expansions: 10\n  time_limit: [1, 2\nlean:\n  timeout: 3\n")
    with pytest.raises(UserError, match=rf"^config file {re.escape(str(yml))}, line \d+: ") as e:
        load_config(yml)
    assert "\n" not in str(e.value)


def test_a_typo_in_a_key_gets_the_closest_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"unknown key search.max_expansion \(did you mean search.max_expansions\?\)"):
        load_config(None, ["search.max_expansion=3"])
    toml = tmp_path / "c.toml"
    toml.write_text("[serch]\ntime_limit = 3\n")
    with pytest.raises(UserError, match=r"line 1: unknown key serch \(did you mean search\?\)"):
        load_config(toml)


def test_a_binary_config_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(UserError, match=r"not UTF-8 text"):
        load_config(f)


def test_preset_on_the_command_line_wins_over_the_file(tmp_path: Path) -> None:
    """`--preset gpu` was silently ignored when the config file set generator.backend."""
    toml = tmp_path / "c.toml"
    toml.write_text('[generator]\nbackend = "hf"\nmodel = "my/model"\nnum_samples = 4\n')
    cfg = _cli_config([*BATCH, "--config", str(toml), "--preset", "gpu"])
    assert cfg.generator.backend == "vllm" and "BFS-Prover" in cfg.generator.model
    cfg = _cli_config([*BATCH, "--config", str(toml), "--preset", "gpu", "--set", "generator.num_samples=3"])
    assert cfg.generator.num_samples == 3  # a --set after the preset still wins
    assert _cli_config([*BATCH, "--config", str(toml)]).generator.backend == "hf"
