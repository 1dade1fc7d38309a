"""The slow mutation tests: the Ray backend on a local 2-CPU Ray instance, and the pipeline's output training a
tiny model through ``prover data export`` and ``prover train sft`` (on the REPL protocol double)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mutate_fixtures import demo_script, demo_tree, double_command, write_script

from data.mutate.premises import PremiseSource
from data.mutate.runner import MutationRun, RayBackend
from data.mutate.store import MutationStore
from prover.cli import main
from prover.config import load_config
from retrieval.corpus import Corpus

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def _setup(tmp_path: Path, **ov):
    root = demo_tree(tmp_path)
    corpus = Corpus.from_lean_sources([root], progress=False, workers=1)
    cfg = load_config(None, {"lean.repl_command": double_command(write_script(tmp_path, demo_script())),
                             "lean.timeout": 30.0, "lean.memory_limit_mb": None, **ov})
    return root, PremiseSource.build(corpus), cfg


def test_ray_backend(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS.parent)}})
    try:
        root, prefilter, cfg = _setup(tmp_path, **{"mutate.workers": 2, "mutate.ray_address": "auto",
                                                   "mutate.ray_cpus": 1})
        run = MutationRun(cfg, root, tmp_path / "out", prefilter, backend=RayBackend(cfg, prefilter),
                          progress=False, argv=["test"])
        s = run.run()
    finally:
        ray.shutdown()
    assert s.fatal is None and s.requests > 0
    with MutationStore.in_dir(tmp_path / "out") as store:
        status = {(m["source"], m["kind"], m["site"]): m["status"] for m in store.mutants()}
        assert status == {
            ("Demo.foo", "rw", "⊢"): "verified",
            ("Demo.foo", "rw", "h"): "verified",
            ("Demo.foo", "apply", "h"): "verified",
            ("Demo.bar", "rw", "⊢"): "rejected",
        }
        assert {c["status"] for c in store.candidates()} == {"done", "skipped"}


def test_mutants_train_through_export_and_sft(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from test_models_hf import tiny_gpt2

    root, prefilter, cfg = _setup(tmp_path)
    out = tmp_path / "mut"
    MutationRun(cfg, root, out, prefilter, progress=False, argv=["test"]).run()
    model, tok = tiny_gpt2()
    model.save_pretrained(tmp_path / "gpt2")
    tok.save_pretrained(tmp_path / "gpt2")
    rc = main(["data", "export", str(out / "steps.jsonl"), "--kind", "sft", "--out", str(tmp_path / "sft"),
               "--no-holdout", "--valid-fraction", "0", "--prompt-format", "bfs"])
    assert rc == 0
    manifest = json.loads((tmp_path / "sft" / "manifest.json").read_text())
    rows = [json.loads(x) for x in (tmp_path / "sft" / "train.jsonl").read_text().splitlines()]
    assert rows and all(r["origin"] == "steps" or r["origin"] == "mutation" for r in rows), manifest
    rc = main(["train", "sft", "--data", str(tmp_path / "sft"), "--out", str(tmp_path / "run"), "--model",
               str(tmp_path / "gpt2"), "--max-steps", "2", "--set", "train.device=cpu", "--set",
               "train.batch_size=2", "--set", "train.save_steps=2"])
    assert rc == 0
    assert (tmp_path / "run" / "final").is_dir()
