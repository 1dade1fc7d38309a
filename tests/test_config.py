"""The typed config: files, overrides, and one-line errors for bad input."""

from __future__ import annotations

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
