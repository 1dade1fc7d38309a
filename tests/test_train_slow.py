"""The slow training tests: SFT under ``torchrun`` with two CPU processes (DDP on gloo), and expert iteration end to
end on the REPL protocol double (batch with a tiny GPT-2 + the automation portfolio → export → train → batch with
the new checkpoint), including a rerun that resumes instead of redoing finished stages.

What the double answers is scripted (tests/double/SCRIPT.md); it proves nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from batch_fakes import double_config, double_script, double_theorems, write_script  # noqa: E402
from test_train import export_steps, folders  # noqa: E402, F401 - the fixture is used by name

from prover.batch.store import ResultStore  # noqa: E402
from prover.train.iterate import run_iterate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sft_ddp_two_cpu_processes(folders, tmp_path) -> None:  # noqa: F811
    data = export_steps(tmp_path, "bfs")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "prover", "train", "sft", "--data", str(data), "--out", str(out), "--model", str(folders["gpt2"]),
        "--max-steps", "4",
        "--set", "train.device=cpu", "--set", "train.ddp_backend=gloo", "--set", "train.batch_size=2",
        "--set", "train.logging_steps=1", "--set", "train.save_steps=2", "--set", "train.learning_rate=0.003",
    ]  # fmt: skip
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "on 2 processes" in p.stderr and "step 4/4" in p.stderr
    assert (out / "final" / "prover.json").is_file() and (out / "checkpoint-4").is_dir()
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4


@pytest.mark.slow
def test_iterate_round_end_to_end_on_the_double(folders, tmp_path, capsys) -> None:  # noqa: F811
    script = double_script(3, 0, 1)  # easy_0..2 (`rfl`), hard_0 (nothing works), bad_statement
    del script["theorems"]["bad_statement"]
    sp = write_script(tmp_path / "s.json", script)
    config = double_config(
        sp,
        **{
            "generator.backend": "hf+automation",
            "generator.automation": ["rfl"],
            "generator.device": "cpu",
            "generator.decoding": "sample",
            "generator.max_new_tokens": 6,
            "generator.num_samples": 2,
            "generator.prompt_format": "bfs",
            "search.max_expansions": 2,
            "train.device": "cpu",
            "train.max_steps": 6,
            "train.batch_size": 2,
            "train.learning_rate": 0.003,
            "train.save_steps": 3,
            "train.export.holdout": [],
            "train.export.valid_fraction": 0.0,
            "train.export.drop_automation_proofs": False,  # the portfolio's `rfl` is the only prover here
            "train.iterate.attempts": 1,
        },
    )
    config.train.model = str(folders["gpt2"])
    theorems = double_theorems(script)
    out = tmp_path / "it"
    config.train.iterate.rounds = 1
    # a crash in the export stage: the rerun keeps the finished batch and goes on from the export
    import prover.train.iterate as iterate_mod

    def crash(*a: object, **k: object) -> None:
        raise RuntimeError("simulated crash during the export")

    real_export, iterate_mod.export = iterate_mod.export, crash
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_iterate(config, theorems, out)
    finally:
        iterate_mod.export = real_export
    assert set(json.loads((out / "round-0" / "round.json").read_text())["stages"]) == {"batch"}
    first = run_iterate(config, theorems, out)
    r0 = json.loads((out / "round-0" / "round.json").read_text())
    assert set(r0["stages"]) == {"batch", "export", "train"} and r0["solved"] == 3
    assert r0["stages"]["export"]["rows"]["train"] == 3  # (state, rfl) of each easy theorem
    model0 = out / "round-0" / "model" / "final"
    assert first["model"] == str(model0) and (model0 / "prover.json").is_file()
    # a second round with the new checkpoint; round 0 (batch included, across the crash) is not redone
    config.train.iterate.rounds = 2
    second = run_iterate(config, theorems, out)
    with ResultStore.in_run_dir(out / "round-0" / "batch", readonly=True) as store:
        assert len(store.sessions()) == 1
    with ResultStore.in_run_dir(out / "round-1" / "batch", readonly=True) as store:
        assert store.get_meta("config")["generator"]["model"] == str(model0)
        rows = store.attempts()
    # theorems solved in every attempt left the pool; the new checkpoint loaded and searched (no error rows)
    assert [(r["theorem"], r["status"]) for r in rows] == [("hard_0", "failed")]
    r1 = json.loads((out / "round-1" / "round.json").read_text())
    assert r0["pool_next"] == 1 and r1["pool"] == 1 and r1["stages"]["export"]["rows"]["train"] == 3
    assert second["model"] == str(out / "round-1" / "model" / "final")
    # the pool overlapping a held-out set is refused
    held = tmp_path / "held.jsonl"
    held.write_text(json.dumps({"name": "easy_0", "formal_statement": "theorem easy_0 : True := by"}) + "\n")
    config.train.export.holdout = [str(held)]
    with pytest.raises(Exception, match="held out"):
        run_iterate(config, theorems, tmp_path / "it2")
