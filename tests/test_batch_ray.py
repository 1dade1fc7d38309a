"""The Ray backend on a local 2-CPU Ray instance: exact pass@k, a prover actor that dies, resume, and the
real agent on the REPL double with a generator actor."""

from __future__ import annotations

import os
import re
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
from repair.config import APOLLO_CHAIN

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


# ---------------------------------------------------------------------------------------------------
# Whole-proof modes on Ray: the completion models on model actors, the mode in the prover actors.
#
# The double's answers (tests/double/SCRIPT.md): a whole proof is replayed line by line through `tactics`
# (a failing tactic is an error at its line, as Lean reports it: the recorded transcripts); the repair loop's
# sorry lines give sorries with proof states that the automation and the step prover then drive.


def _stmt(name: str, k: int) -> str:
    return f"theorem {name} (x : ℕ) (h : x = {k}) : x + x = {2 * k} := by"


def _goal(k: int) -> str:
    return f"x : ℕ\nh : x = {k}\n⊢ x + x = {2 * k}"


def _lean(name: str, k: int, tactic: str) -> str:
    return f"Here is the proof.\n```lean4\nimport Mathlib\n\n{_stmt(name, k)}\n  {tactic}\n```"


# name -> (k, answers by seed): raw closes at once; auto needs the automation; search the step prover; seeded
# is proved only with seed 1 (attempt 1); none gets no Lean block
WHOLE = {
    "raw": (1, ["omega"]),
    "auto": (2, ["nlinarith [h]"]),
    "search": (3, ["nlinarith [h]"]),
    "seeded": (4, ["nlinarith [h]", "omega"]),
    "none": (5, []),
}


def _whole_run(tmp_path: Path):
    from batch_fakes import ScriptedCompletions, ScriptedGenerators

    from prover.lean.types import Theorem

    tactics: dict[str, dict] = {}
    for _name, (k, _) in WHOLE.items():
        tactics[_goal(k)] = {"omega": {"goals": []}, "nlinarith [h]": {"error": "linarith failed"}}
    tactics[_goal(2)][APOLLO_CHAIN] = {"goals": []}
    tactics[_goal(3)]["subst h"] = {"goals": ["⊢ 3 + 3 = 6"]}
    tactics["⊢ 3 + 3 = 6"] = {"norm_num": {"goals": []}}
    script = {"theorems": {n: {"goals": [_goal(k)]} for n, (k, _) in WHOLE.items()}, "tactics": tactics}
    sp = write_script(tmp_path / "whole.json", script)
    thms = [Theorem(n, _stmt(n, k), header="import Mathlib\n\n", meta={"key": n}) for n, (k, _) in WHOLE.items()]
    answers = {n: [_lean(n, k, t) for t in ts] for n, (k, ts) in WHOLE.items() if ts}
    steps = ScriptedGenerators({_goal(3): ["subst h"], "⊢ 3 + 3 = 6": ["norm_num"]})

    def factory(**kw) -> AgentFactory:
        return AgentFactory(generator=steps, completion_backend=ScriptedCompletions({"whole": answers}, **kw))

    return sp, thms, factory


def _rows(run: Path) -> dict:
    keep = ("status", "proof", "mode", "stage", "samples", "tokens", "stats", "error")
    with ResultStore.in_run_dir(run, readonly=True) as store:
        return {(r["theorem"], r["attempt"]): {k: r[k] for k in keep} for r in store.attempts()}


def test_ray_hybrid_serves_both_models_from_actors_as_threads_do(ray_cluster, tmp_path: Path) -> None:
    """hybrid on Ray (a tactic generator actor and a whole-proof model actor, two prover actors) gives exactly
    the rows of the threads backend: statuses, proofs, stages, samples and tokens (seeds went through); the
    model actor dies with a request once and the attempts it was serving are redone."""
    sp, thms, factory = _whole_run(tmp_path)
    ov = {
        "mode": "hybrid",
        "batch.attempts": 2,
        "batch.workers": 2,
        "repair.samples": 2,
        "repair.sublemma_samples": 0,
        "repair.automation": [APOLLO_CHAIN],
    }
    threads_cfg = double_config(sp, **ov)
    s = BatchRunner(threads_cfg, thms, tmp_path / "threads", factory=factory(), progress=False).run()
    assert s.ran == 10 and s.fatal is None
    assert s.generator["models"]["whole"]["requests"] == 10  # one request of 2 samples per attempt
    ray_ov = {**ov, "batch.ray_address": "auto", "batch.ray_generator_actors": 1, "batch.ray_generator_gpus": 0,
              "batch.ray_completion_actors": 1}
    cfg = double_config(sp, **ray_ov)
    f = factory(die_once=("auto",))
    s = BatchRunner(cfg, thms, tmp_path / "ray", factory=f, backend=RayBackend(cfg, f), progress=False).run()
    assert s.ran == 10 and s.fatal is None
    models = s.generator["models"]["whole"]
    assert models["requests"] >= 1 and models["calls"] <= models["requests"]  # counted since the restart
    assert s.generator["requests"] >= 2  # the tactic generator actor (the "search" theorem)
    threads, on_ray = _rows(tmp_path / "threads"), _rows(tmp_path / "ray")
    assert on_ray == threads
    assert {k: r["stage"] for k, r in threads.items() if r["status"] == "proved"} == {
        ("raw", 0): "raw", ("raw", 1): "raw", ("auto", 0): "automation", ("auto", 1): "automation",
        ("search", 0): "search", ("search", 1): "search", ("seeded", 1): "raw",
    }
    assert threads[("seeded", 0)]["tokens"] != threads[("seeded", 1)]["tokens"]
    with ResultStore.in_run_dir(tmp_path / "ray", readonly=True) as store:
        tries = {(r["theorem"], r["attempt"]): r["tries"] for r in store.attempts()}
    # the attempt whose request killed the actor (and any merged with it) was redone once
    assert max(tries.values()) == 2 and 2 in (tries[("auto", 0)], tries[("auto", 1)])


def test_ray_sketch_mode_puts_draft_and_sketch_models_on_actors(ray_cluster, tmp_path: Path) -> None:
    """sketch on Ray: the draft and sketch models (two local models) each on a model actor; the rows equal
    those of the threads backend. A model that cannot be loaded stops the batch with one line."""
    from batch_fakes import ScriptedCompletions, unloadable_model
    from test_sketch_mode import DRAFT, G0, G_H2, G_LAST, SKETCH2, STMT, W1, two_step_commands

    from prover.lean.types import Theorem

    final = W1.replace("    sorry\n", "    linarith\n").replace("h₂\n  sorry\n", "h₂\n  linarith\n")
    script = {"theorems": {"t": {"goals": [G0]}}, "commands": two_step_commands(final),
              "tactics": {G_H2: {"linarith": {"goals": []}}, G_LAST: {"linarith": {"goals": []}}}}
    sp = write_script(tmp_path / "sketch.json", script)
    thms = [Theorem("t", STMT, header="import Mathlib\n\n", meta={"key": "t"})]
    ov = {"mode": "sketch", "sketch.search": False, "sketch.automation": ["linarith"],
          "sketch.draft_model": {"backend": "vllm", "model": "org/reasoner"},
          "sketch.sketch_model": {"backend": "vllm", "model": "org/formalizer"}, "batch.workers": 1}
    f = AgentFactory(completion_backend=ScriptedCompletions({"draft": {"t": [DRAFT]}, "sketch": {"t": [SKETCH2]}}))
    s = BatchRunner(double_config(sp, **ov), thms, tmp_path / "threads", factory=f, progress=False).run()
    assert s.ran == 1
    cfg = double_config(sp, **ov, **{"batch.ray_address": "auto", "batch.ray_completion_gpus": 0})
    s = BatchRunner(cfg, thms, tmp_path / "ray", factory=f, backend=RayBackend(cfg, f), progress=False).run()
    assert s.ran == 1 and s.fatal is None
    assert set(s.generator["models"]) == {"draft", "sketch"} and "calls" not in s.generator  # no tactic model
    threads, on_ray = _rows(tmp_path / "threads"), _rows(tmp_path / "ray")
    assert on_ray == threads and threads[("t", 0)]["status"] == "proved", threads
    assert threads[("t", 0)]["proof"] == final

    broken = AgentFactory(completion_backend=unloadable_model)
    s = BatchRunner(cfg, thms, tmp_path / "broken", factory=broken, backend=RayBackend(cfg, broken),
                    progress=False).run()
    assert s.ran == 0 and s.fatal is not None
    # both models are unloadable and load at once: whichever actor fails first is named
    assert re.match(r"the (draft|sketch) model cannot be loaded on its Ray actor: ", s.fatal), s.fatal
    assert "no weights" in s.fatal

