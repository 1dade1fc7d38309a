"""The Ray backend on a local 2-CPU Ray instance: exact pass@k, a prover actor that dies, resume, and the
real agent on the REPL double with a generator actor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batch_fakes import (
    OutcomeAgents,
    PromptRecorder,
    double_config,
    double_script,
    double_theorems,
    no_env,
    no_generator,
    recorded_prompts,
    theorems,
    write_script,
)

from prover.agent import Agent
from prover.batch.ray_backend import RayBackend
from prover.batch.report import write_report
from prover.batch.runner import AgentFactory, BatchRunner
from prover.batch.store import ResultStore
from prover.config import load_config

ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    markers = tmp_path_factory.mktemp("markers")
    os.environ["BATCH_FAKES_MARKERS"] = str(markers)
    path = os.pathsep.join([str(TESTS.parent), str(TESTS)])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path, "BATCH_FAKES_MARKERS": str(markers)}},
    )
    yield
    ray.shutdown()


def ray_cfg(**ov):
    base = {
        "batch.workers": 2,
        "batch.ray_address": "auto",
        "batch.ray_generator_actors": 0,
        "batch.ray_generator_gpus": 0,
        "batch.ray_prover_cpus": 1,
    }
    return load_config(None, {**base, **ov})


def test_ray_pass_at_k_actor_death_and_resume(ray_cluster, tmp_path: Path) -> None:
    table = {
        "a": ["proved"],
        "b": ["proved", "failed"],
        "c": ["failed"],
        "dies_once": ["exit_once", "failed"],  # the actor process exits; Ray restarts it; the job is resent
        "always_dies": ["exit", "failed"],  # attempt 0 kills its actor every time: recorded as an error
    }
    factory = AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents(table))
    names = list(table)
    cfg = ray_cfg(**{"batch.attempts": 1})
    s = BatchRunner(
        cfg, theorems(names), tmp_path, factory=factory, backend=RayBackend(cfg, factory), progress=False
    ).run()
    assert s.ran == 5 and s.fatal is None
    cfg2 = ray_cfg(**{"batch.attempts": 2, "batch.retry_errors_on_resume": False})
    s2 = BatchRunner(
        cfg2, theorems(names), tmp_path, factory=factory, backend=RayBackend(cfg2, factory), progress=False
    ).run()
    # resume: only attempt 1 of each theorem
    assert s2.todo == 5 and s2.skipped_done == 5
    with ResultStore.in_run_dir(tmp_path, readonly=True) as store:
        rows = {(r["theorem"], r["attempt"]): r for r in store.attempts()}
        assert {s["backend"] for s in store.sessions()} == {"ray"}
    assert len(rows) == 10
    assert rows[("dies_once", 0)]["status"] == "proved", (
        rows[("dies_once", 0)]["error"],
        rows[("dies_once", 0)]["tries"],
    )
    assert rows[("dies_once", 0)]["worker"].startswith("ray-")
    dead = rows[("always_dies", 0)]
    assert dead["status"] == "error" and dead["error"].startswith("worker died") and dead["tries"] == 2
    rep = write_report(tmp_path)
    # a: 2/2, b: 1/2, c: 0/2, dies_once: 1/2, always_dies: 0/2
    assert rows[("always_dies", 1)]["status"] == "failed"
    assert rep["all"]["pass_at_k"]["1"] == pytest.approx((1 + 0.5 + 0 + 0.5 + 0) / 5)
    assert rep["all"]["pass_at_k"]["2"] == pytest.approx(3 / 5)


def test_ray_real_agent_with_a_generator_actor(ray_cluster, tmp_path: Path) -> None:
    script = double_script(3, 1, 1)
    sp = write_script(tmp_path / "s.json", script)
    cfg = double_config(
        sp,
        **{
            "batch.attempts": 1,
            "batch.workers": 2,
            "batch.ray_address": "auto",
            "batch.ray_generator_actors": 1,
            "batch.ray_generator_gpus": 0,
        },
    )
    tactics = ["rfl", "constructor", "all_goals assumption"]
    factory = AgentFactory(generator=PromptRecorder(tmp_path / "ray.jsonl", tactics))
    s = BatchRunner(
        cfg,
        double_theorems(script),
        tmp_path / "run",
        factory=factory,
        backend=RayBackend(cfg, factory),
        progress=False,
    ).run()
    assert s.ran == 6 and s.fatal is None
    assert s.generator["requests"] >= 5 and s.generator["calls"] <= s.generator["requests"]
    # the proxy and the actor's BatchingGenerator keep each state's context: prompts as in `prove`
    with Agent(cfg, generator=PromptRecorder(tmp_path / "prove.jsonl", tactics)(cfg)) as agent:
        for t in double_theorems(script):
            agent.prove(t, seed=cfg.batch.seed)
    assert recorded_prompts(tmp_path / "ray.jsonl") == recorded_prompts(tmp_path / "prove.jsonl")
    with ResultStore.in_run_dir(tmp_path / "run", readonly=True) as store:
        rows = {r["theorem"]: r for r in store.attempts()}
    assert {n for n, r in rows.items() if r["status"] == "proved"} == {"easy_0", "easy_1", "easy_2", "two_0"}
    assert rows["easy_0"]["lean_version"] is None  # the double runs on no Lean: nothing is invented
    assert rows["bad_statement"]["status"] == "error"


def test_ray_resources_are_checked(ray_cluster, tmp_path: Path) -> None:
    from prover.errors import UserError

    factory = AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents({}))
    cfg = ray_cfg(**{"batch.ray_generator_actors": 1, "batch.ray_generator_gpus": 1})
    with pytest.raises(UserError, match=r"has 0 GPU\(s\); 1 generator actor\(s\) × 1 need 1"):
        BatchRunner(
            cfg, theorems(["a"]), tmp_path, factory=factory, backend=RayBackend(cfg, factory), progress=False
        ).run()
    # more workers than CPUs: capped (2 CPUs), not hung
    cfg = ray_cfg(**{"batch.workers": 5})
    s = BatchRunner(
        cfg,
        theorems(list("abcdef")),
        tmp_path / "r2",
        factory=factory,
        backend=RayBackend(cfg, factory),
        progress=False,
    ).run()
    assert s.ran == 6
