"""Test tools for batch runs: picklable agent-factory parts (Ray ships them to actors) and scripts.

* `OutcomeAgents`: fake agents whose result for (theorem, seed) comes from a table, for exact pass@k,
  crashes, fatal errors and slow attempts without any Lean;
* `NoEnv` / `NoGenerator`: stand-ins for the env / generator an `OutcomeAgents` agent ignores;
* `ScriptedGenerators`: builds a `fakes.ScriptedGenerator` (tactics per goal state) for the real `Agent`;
* `double_script` / `double_config`: a REPL-double script with many theorems and a config running it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from prover.attempt import ProofAttempt
from prover.config import ProverConfig, load_config
from prover.lean.types import LeanSetupError, Theorem

TESTS = Path(__file__).resolve().parent
DOUBLE = TESTS / "double" / "repl_double.py"


class NoEnv:
    def close(self) -> None:
        pass


def no_env(config: ProverConfig, pool: Any) -> NoEnv:
    return NoEnv()


class NoGenerator:
    def close(self) -> None:
        pass

    def generate(self, states: Any, premises: Any = None, n: int = 8, *, contexts: Any = None) -> list[list[Any]]:
        return [[] for _ in states]


def no_generator(config: ProverConfig) -> NoGenerator:
    return NoGenerator()


_ONCE: set[tuple[str, int, int]] = set()  # (theorem, seed, pid) that already raised once


class OutcomeAgent:
    """``prove(theorem, seed)`` returns the status ``table[name][seed - base]`` (cycled) after ``delay``.

    Special statuses: ``raise`` (the agent raises: a "dead worker"), ``raise_once`` (raises the first time,
    proves on the retry), ``exit`` (the worker process exits: for Ray actors), ``exit_once``, ``setup``
    (raises `LeanSetupError`: fatal for the batch), ``noproof`` (claims proved without a proof text).
    """

    def __init__(self, table: dict[str, list[str]], base: int, delay: float, default: str) -> None:
        self.table, self.base, self.delay, self.default = table, base, delay, default
        self.closed = False

    def prove(self, theorem: Theorem, seed: int = 0, progress: Any = None) -> ProofAttempt:
        t0 = time.monotonic()
        statuses = self.table.get(theorem.name, [self.default])
        status = statuses[(seed - self.base) % len(statuses)]
        if self.delay:
            time.sleep(self.delay)
        key = (theorem.name, seed, os.getpid())
        if status in ("raise_once", "exit_once"):
            if key not in _ONCE and not _marker_seen(theorem.name, seed):
                _ONCE.add(key)
                _mark(theorem.name, seed)
                if status == "exit_once":
                    os._exit(17)
                raise RuntimeError(f"scripted agent crash on {theorem.name}")
            status = "proved"
        if status == "raise":
            raise RuntimeError(f"scripted agent crash on {theorem.name}")
        if status == "exit":
            os._exit(17)
        if status == "setup":
            raise LeanSetupError("scripted: the REPL binary is missing")
        a = ProofAttempt(theorem=theorem, status="error", seed=seed, time=time.monotonic() - t0)
        a.expansions, a.lean_calls = 3, 7
        if status in ("proved", "noproof"):
            a.status = "proved"
            a.proof = None if status == "noproof" else theorem.with_proof("rfl")
            a.lean_version = "4.24.0-fake"
        elif status in ("failed", "timeout"):
            a.status = status
        else:
            a.status, a.error = "error", f"LeanCrashed: scripted {status}"
        return a

    def close(self) -> None:
        self.closed = True


# Crash markers shared across processes (Ray actors are processes): a file per (theorem, seed).
MARKER_DIR = Path(os.environ.get("BATCH_FAKES_MARKERS", "/tmp/batch-fakes-markers"))


def _marker(name: str, seed: int) -> Path:
    return MARKER_DIR / f"{name}.{seed}"


def _marker_seen(name: str, seed: int) -> bool:
    return _marker(name, seed).exists()


def _mark(name: str, seed: int) -> None:
    MARKER_DIR.mkdir(parents=True, exist_ok=True)
    _marker(name, seed).touch()


class OutcomeAgents:
    """Picklable ``agent(config, env=, generator=)`` callable building `OutcomeAgent`s."""

    def __init__(self, table: dict[str, list[str]], *, delay: float = 0.0, default: str = "failed") -> None:
        self.table, self.delay, self.default = table, delay, default

    def __call__(self, config: ProverConfig, env: Any = None, generator: Any = None) -> OutcomeAgent:
        return OutcomeAgent(self.table, config.batch.seed, self.delay, self.default)


class ScriptedGenerators:
    """Picklable generator builder: ``fakes.ScriptedGenerator(table, default)``."""

    def __init__(self, table: dict[str, list[str]], default: list[str] | None = None) -> None:
        self.table, self.default = table, default or []

    def __call__(self, config: ProverConfig) -> Any:
        if str(TESTS) not in sys.path:
            sys.path.insert(0, str(TESTS))
        from fakes import ScriptedGenerator

        return ScriptedGenerator(self.table, default=self.default)


def theorems(names: list[str], header: str = "import Mathlib\n\n") -> list[Theorem]:
    return [
        Theorem(name=n, statement=f"theorem {n} : True := by", header=header, source="fake", meta={"key": n})
        for n in names
    ]


# ---------------------------------------------------------------------------------------------------
# REPL double


def double_script(n_easy: int, n_two_step: int, n_hard: int, *, sleep: float = 0.0, crash: bool = False) -> dict:
    """Theorems ``easy_i`` (``rfl``), ``two_i`` (``constructor`` then ``all_goals assumption``), ``hard_i``
    (nothing works), ``bad_statement`` (does not elaborate), and with ``crash`` ``crashy`` (``boom`` kills
    the REPL, ``rfl`` then proves it). ``sleep`` delays every successful step."""
    thms: dict[str, Any] = {}
    tactics: dict[str, Any] = {}

    def step(goals: list[str]) -> dict[str, Any]:
        d: dict[str, Any] = {"goals": goals, "axioms": []}
        if sleep:
            d["sleep"] = sleep
        return d

    for i in range(n_easy):
        g = f"x{i} : Nat\n⊢ x{i} = x{i}"
        thms[f"easy_{i}"] = {"goals": [g]}
        tactics[g] = {"rfl": step([])}
    for i in range(n_two_step):
        g = f"p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q ∧ {i} = {i}"
        sub = [f"case left\nhp : p\n⊢ p{i}", f"case right\nhq : q\n⊢ q{i}"]
        thms[f"two_{i}"] = {"goals": [g]}
        tactics[g] = {"constructor": step(sub)}
        tactics["\n\n".join(sub)] = {"all_goals assumption": step([])}
    for i in range(n_hard):
        g = f"n{i} : Nat\n⊢ n{i} < 0"
        thms[f"hard_{i}"] = {"goals": [g]}
        tactics[g] = {"rfl": {"error": "The rfl tactic failed", **({"sleep": sleep} if sleep else {})}}
    thms["bad_statement"] = {"error": "type mismatch"}
    if crash:
        g = "c : Nat\n⊢ c = c"
        thms["crashy"] = {"goals": [g]}
        tactics[g] = {"boom": {"crash": True}, "rfl": step([])}
    return {"lean_version": "4.24.0-double", "theorems": thms, "tactics": tactics}


GENERATOR_TABLE_DEFAULT = ["rfl", "constructor", "all_goals assumption"]


def write_script(path: Path, script: dict) -> Path:
    path.write_text(json.dumps(script, ensure_ascii=False))
    return path


def double_config(script_path: Path, **overrides: Any) -> ProverConfig:
    """A config whose REPL is the protocol double on ``script_path``; small search budgets."""
    ov: dict[str, Any] = {
        "lean.repl_command": [sys.executable, str(DOUBLE), "--script", str(script_path)],
        "lean.timeout": 10.0,
        "lean.memory_limit_mb": None,
        "search.max_expansions": 6,
        "search.time_limit": 30.0,
        "generator.num_samples": 4,
    }
    ov.update(overrides)
    return load_config(None, ov)


def double_theorems(script: dict, header: str = "import Mathlib\n\n") -> list[Theorem]:
    return [
        Theorem(name=n, statement=f"theorem {n} : True := by", header=header, source="double", meta={"key": n})
        for n in script["theorems"]
    ]


def demo_factory() -> Any:
    """For ``--agent-factory batch_fakes:demo_factory``: ``a*`` proved on every attempt, the rest failed."""
    from prover.batch.runner import AgentFactory

    table = {f"a{i}": ["proved"] for i in range(10)}
    return AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents(table))


class PromptRecorder:
    """Picklable generator builder for prompt tests: each built generator renders every state with the real
    prompt renderer (``fmt``, default InternLM2.5's, which shows the theorem name and the tactics so far),
    appends ``{"prompt", "seed"}`` as a JSON line to ``path`` (works across processes and Ray actors) and
    proposes ``tactics`` for every state."""

    def __init__(self, path: Path, tactics: list[str], fmt: str = "internlm25") -> None:
        self.path, self.tactics, self.fmt = str(path), list(tactics), fmt

    def __call__(self, config: ProverConfig) -> Any:
        return _RecordingGenerator(self.path, self.tactics, self.fmt)


class _RecordingGenerator:
    def __init__(self, path: str, tactics: list[str], fmt: str) -> None:
        from prover.models.prompts import get_format

        self.path, self.tactics, self.format = path, tactics, get_format(fmt)

    def close(self) -> None:
        pass

    def generate(self, states: Any, premises: Any = None, n: int = 8, *, contexts: Any = None) -> list[list[Any]]:
        from prover.models.base import Candidate

        prompts = self.format.render_all(states, premises, contexts)
        seeds = [c.seed if c is not None else None for c in contexts] if contexts else [None] * len(states)
        with open(self.path, "a", encoding="utf-8") as f:
            for p, s in zip(prompts, seeds, strict=True):
                f.write(json.dumps({"prompt": p, "seed": s}) + "\n")
        return [[Candidate(t, -(i + 1.0), -(i + 1.0), 1) for i, t in enumerate(self.tactics[:n])] for _ in states]


def recorded_prompts(path: Path) -> set[tuple[str, int | None]]:
    """The (prompt, seed) pairs a `PromptRecorder` wrote."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {(r["prompt"], r["seed"]) for r in rows}


class ScriptedCompletions:
    """Picklable ``completion_backend(config, role, model_cfg)`` builder (`AgentFactory`): a completion backend
    for the whole-proof (``whole``) or sketch mode's (``draft`` / ``sketch``) model that answers a prompt naming
    ``theorem NAME`` with ``table[role][NAME][seed % len]`` for each of the ``n`` samples (no entry: an answer
    without a Lean block). Token counts depend on the seed, so budgets show that seeds went through.
    ``die_once``: names whose first request makes the serving process exit (a Ray model actor dying with the
    request; a marker file makes it once across restarts)."""

    def __init__(self, table: dict[str, dict[str, list[str]]], die_once: tuple[str, ...] = ()) -> None:
        self.table, self.die_once = table, tuple(die_once)

    def __call__(self, config: ProverConfig, role: str, model_cfg: Any) -> Any:
        return _ScriptedCompletionBackend(self.table.get(role, {}), self.die_once)


class _ScriptedCompletionBackend:
    def __init__(self, table: dict[str, list[str]], die_once: tuple[str, ...]) -> None:
        self.table, self.die_once = table, die_once

    def _name(self, prompt: Any) -> str | None:
        text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
        return next((n for n in sorted(self.table, key=len, reverse=True) if f"theorem {n} " in text), None)

    def complete(self, prompts: Any, n: int, seeds: Any = None) -> list[list[Any]]:
        from prover.models.filters import Completion

        out = []
        for i, p in enumerate(prompts):
            seed = (seeds[i] if seeds is not None else None) or 0
            name = self._name(p)
            if name in self.die_once and not _marker_seen(f"model-{name}", 0):
                _mark(f"model-{name}", 0)
                os._exit(17)
            answers = self.table.get(name or "", ["I cannot prove this."])
            text = answers[seed % len(answers)]
            out.append([Completion(text, -1.0 - k, 20 + seed + k, True, 100) for k in range(n)])
        return out

    def close(self) -> None:
        pass


def unloadable_model(config: ProverConfig, role: str, model_cfg: Any) -> Any:
    """A ``completion_backend`` whose model cannot be loaded."""
    from prover.models.errors import ModelLoadError

    raise ModelLoadError(f"cannot load {model_cfg.model}: no weights here")


class _SlowProofs:
    """Answers every whole-proof prompt naming ``theorem NAME : True`` with a proof whose first tactic is the
    double's ``slow`` (a Lean stuck in a tactic)."""

    def complete(self, prompts: Any, n: int, seeds: Any = None) -> list[list[Any]]:
        import re

        from prover.models.filters import Completion

        out = []
        for p in prompts:
            text = p if isinstance(p, str) else "\n".join(m["content"] for m in p)
            m = re.search(r"theorem (\S+) : True", text)
            proof = f"```lean4\ntheorem {m.group(1) if m else 'x'} : True := by\n  slow\n  rfl\n```"
            out.append([Completion(proof, -1.0, 10, True, 10) for _ in range(n)])
        return out

    def close(self) -> None:
        pass


def slow_whole_factory() -> Any:
    """For ``--agent-factory batch_fakes:slow_whole_factory``: the whole-proof model answers `_SlowProofs`."""
    from prover.batch.runner import AgentFactory

    return AgentFactory(completion_backend=_slow_proofs)


def _slow_proofs(config: ProverConfig, role: str, model_cfg: Any) -> _SlowProofs:
    return _SlowProofs()
