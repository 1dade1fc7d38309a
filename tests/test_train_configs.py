"""The cluster configs and launch scripts parse (accelerate's own config reader, JSON, ``bash -n``), the
``[train]`` config section validates with one-line errors, and ``prover train`` reports bad input in one line.
The multi-GPU / multi-node launches themselves need a GPU cluster and were not run here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from prover.cli import main
from prover.config import load_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "train"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("accelerate_*.yaml")))
def test_accelerate_configs_load(name: str) -> None:
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    c = config_args.load_config_from_file(str(CONFIGS / name))
    assert c.num_processes >= 8
    if c.deepspeed_config:
        ds = REPO / c.deepspeed_config["deepspeed_config_file"]
        stage = json.loads(ds.read_text())["zero_optimization"]["stage"]
        assert f"zero{stage}" in name


def test_deepspeed_configs_are_json_with_auto_batch_sizes() -> None:
    for p in CONFIGS.glob("deepspeed_*.json"):
        d = json.loads(p.read_text())
        assert d["train_micro_batch_size_per_gpu"] == "auto" and d["zero_optimization"]["stage"] in (2, 3)


@pytest.mark.parametrize("script", ["launch_train.sh", "slurm_train.sbatch", "slurm_iterate.sbatch"])
def test_launch_scripts_parse(script: str) -> None:
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / script)]).returncode == 0


def test_train_config_errors_are_one_line() -> None:
    with pytest.raises(Exception, match=r"train\.lora\.r: Input should be greater than or equal to 1"):
        load_config(None, {"train.lora.r": 0})
    with pytest.raises(Exception, match=r"train\.export\.file_format"):
        load_config(None, {"train.export.file_format": "csv"})
    c = load_config(None, ["train.iterate.launcher=[torchrun, --nproc_per_node, '8']"])
    assert c.train.iterate.launcher == ["torchrun", "--nproc_per_node", "8"]


def test_train_cli_bad_input(tmp_path, capsys) -> None:
    assert main(["train", "sft", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no manifest.json" in err and err.count("\n") == 1
    assert main(["train", "dpo", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--set", "train.nope=1"]) == 2
    assert "--set train.nope=1: unknown key train.nope" in capsys.readouterr().err
