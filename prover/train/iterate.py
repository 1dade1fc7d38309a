"""Expert iteration (BFS-Prover / BFS-Prover-V2): prove with the current checkpoint, keep what was proved,
retrain, repeat.

Round ``K`` lives in ``OUT/round-K/``:

1. **batch** — `prover batch` over the pool with the current model (``generator.model``), ``train.iterate.attempts``
   attempts, graphs saved in ``round-K/batch/graphs``; on Ray when ``batch.ray_address`` is set;
2. **export** — SFT data from the batch runs of rounds ``0..K`` (plus ``train.iterate.extra_data``) into
   ``round-K/data/sft``: held-out sets excluded, proofs the automation portfolio finds alone and a round's
   theorems it already solves easily (``train.iterate.easy_solve_rate``) dropped;
3. **train** — SFT from the previous round's model (or the base, ``train.iterate.init = "base"``) into
   ``round-K/model``; in this process, or under ``train.iterate.launcher`` (torchrun / accelerate) for many GPUs;
4. theorems solved in at least ``prune_solved_rate`` of the round's attempts leave the next round's pool.

``round-K/round.json`` records each finished stage; a rerun of the same command skips finished stages, resumes
the batch from its store and the training from its last checkpoint, so a crash at any stage loses at most the
work in flight. The prompt format is fixed once from the starting model, so every round's data, training and
search use the same prompts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from data.export import Holdout
from prover.errors import UserError
from prover.lean.types import Theorem
from prover.models.prompts import get_format
from prover.train.common import FINAL, say
from prover.train.sources import export, read_run_dir

STATE_FILE = "iterate.json"
ROUND_FILE = "round.json"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(path)


def _solve_rates(run_dir: Path) -> dict[str, float]:
    run = read_run_dir(run_dir)
    done: dict[str, int] = {}
    proved: dict[str, int] = {}
    for a in run.attempts:
        if a["status"] in ("proved", "failed", "timeout"):
            done[a["theorem"]] = done.get(a["theorem"], 0) + 1
            proved[a["theorem"]] = proved.get(a["theorem"], 0) + (a["status"] == "proved")
    return {k: proved[k] / done[k] for k in done}


def _key(t: Theorem) -> str:
    return str(t.meta.get("key") or t.name)


class Iteration:
    def __init__(self, config: Any, theorems: list[Theorem], out: Path | str, *, factory: Any = None) -> None:
        self.config = config
        self.out = Path(out)
        self.factory = factory
        self.it = config.train.iterate
        self.base_model = config.train.model or config.generator.model
        g = config.generator
        # One prompt format for every round (a trained checkpoint would otherwise be "auto"-detected anew).
        self.prompt_format = get_format(g.prompt_format, self.base_model, g.prompt_template).name
        self.theorems = list(theorems)
        self.holdout = Holdout.load(config.train.export.holdout, config.batch.benchmark_dir)

    # -- state ------------------------------------------------------------------------------------

    def _check_state(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        state = {"base_model": self.base_model, "prompt_format": self.prompt_format,
                 "pool": [_key(t) for t in self.theorems]}  # fmt: skip
        path = self.out / STATE_FILE
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            for k in ("base_model", "prompt_format", "pool"):
                if old.get(k) != state[k]:
                    raise UserError(
                        f"{self.out} holds an expert iteration with another {k.replace('_', ' ')}; use a new --out"
                    )
        else:
            _write_json(path, state)

    def round_config(self, model: str, rdir: Path) -> Any:
        c = self.config.model_copy(deep=True)
        c.generator.model = model
        c.generator.prompt_format = self.prompt_format
        c.batch.attempts = self.it.attempts
        c.batch.graphs_dir = rdir / "batch" / "graphs"
        if self.it.easy_solve_rate is not None and c.train.export.easy_solve_rate is None:
            c.train.export.easy_solve_rate = self.it.easy_solve_rate
        return c

    # -- stages -----------------------------------------------------------------------------------

    def _batch(self, cfg: Any, pool: list[Theorem], run_dir: Path, k: int) -> dict[str, Any]:
        from prover.batch.runner import BatchRunner

        backend = None
        if cfg.batch.ray_address:
            from prover.batch.ray_backend import RayBackend

            backend = RayBackend(cfg, self.factory)
        say(f"round {k}: batch over {len(pool)} theorems × {cfg.batch.attempts} with {cfg.generator.model}")
        s = BatchRunner(
            cfg, pool, run_dir, factory=self.factory, backend=backend, progress=sys.stderr.isatty(),
            info={"iterate_round": k},
        ).run()  # fmt: skip
        if s.interrupted:
            raise KeyboardInterrupt
        if not s.complete:
            why = s.fatal or (f"{s.unsaved} results unsaved" if s.unsaved else f"{s.todo - s.ran} attempts not run")
            raise UserError(f"round {k}: the batch did not finish ({why}); rerun the same command to resume")
        return {"ran": s.ran, "counts": s.counts, "seconds": round(s.wall, 1)}

    def _train(self, cfg: Any, data: Path, model_dir: Path, init: str, rdir: Path) -> None:
        if self.it.launcher:
            cfg_file = rdir / "train_config.yaml"
            cfg_file.write_text(yaml.safe_dump(json.loads(cfg.model_dump_json()), allow_unicode=True))
            cmd = [*self.it.launcher, "-m", "prover", "train", "sft", "--data", str(data), "--out", str(model_dir),
                   "--model", init, "--config", str(cfg_file)]  # fmt: skip
            say("training: " + " ".join(cmd))
            rc = subprocess.call(cmd)
            if rc != 0:
                raise UserError(f"training exited with status {rc}; rerun the same command to resume")
            return
        from prover.train.sft import train_sft

        train_sft(data, model_dir, cfg.train, init)

    def run(self) -> dict[str, Any]:
        self._check_state()
        overlap = [t.name for t in self.theorems if self.holdout.hit(t.name, t.statement)]
        if overlap:
            raise UserError(
                f"{len(overlap)} theorems of the pool are held out (e.g. {overlap[0]}): expert iteration trains on "
                "its pool; choose a training pool, or change train.export.holdout"
            )
        model = self.base_model
        pool = list(self.theorems)
        rounds: list[dict[str, Any]] = []
        for k in range(self.it.rounds):
            rdir = self.out / f"round-{k}"
            rdir.mkdir(parents=True, exist_ok=True)
            rfile = rdir / ROUND_FILE
            info: dict[str, Any] = json.loads(rfile.read_text()) if rfile.is_file() else {"round": k, "stages": {}}
            if info.get("model") not in (None, model):
                raise UserError(f"{rfile}: this round ran with {info['model']}, not {model}; use a new --out")
            info.update(model=model, pool=len(pool))
            stages = info["stages"]
            cfg = self.round_config(model, rdir)
            run_dir = rdir / "batch"
            if "batch" not in stages:
                stages["batch"] = {**self._batch(cfg, pool, run_dir, k), "finished": time.time()}
                _write_json(rfile, info)
            rates = _solve_rates(run_dir)
            info["solved"] = sum(1 for t in pool if rates.get(_key(t), 0.0) > 0)
            data = rdir / "data" / "sft"
            if "export" not in stages:
                inputs = [self.out / f"round-{j}" / "batch" for j in range(k + 1)] + list(self.it.extra_data)
                m = export(inputs, "sft", data, cfg)
                stages["export"] = {"rows": m["rows"], "removed": m["removed"], "finished": time.time()}
                _write_json(rfile, info)
            info["train_rows"] = stages["export"]["rows"]["train"]
            if "train" not in stages:
                if info["train_rows"] == 0:
                    say(f"round {k}: no training rows; the model stays {model}")
                    stages["train"] = {"skipped": "no training rows", "finished": time.time()}
                else:
                    init = self.base_model if self.it.init == "base" else model
                    self._train(cfg, data, rdir / "model", init, rdir)
                    stages["train"] = {"model": str(rdir / "model" / FINAL), "init": init, "finished": time.time()}
                _write_json(rfile, info)
            model = stages["train"].get("model", model)
            info["trained_model"] = model
            if self.it.prune_solved_rate is not None:
                pool = [t for t in pool if rates.get(_key(t), 0.0) < self.it.prune_solved_rate]
            info["pool_next"] = len(pool)
            _write_json(rfile, info)
            rounds.append(info)
            say(f"round {k} done: solved {info['solved']}/{info['pool']}, {info['train_rows']} rows → {model}")
            if not pool:
                say("every theorem of the pool is solved; stopping")
                break
        return {"rounds": rounds, "model": model}


def run_iterate(config: Any, theorems: list[Theorem], out: Path | str, *, factory: Any = None) -> dict[str, Any]:
    """`prover train iterate` (see the module docstring); returns per-round summaries and the last model."""
    return Iteration(config, theorems, out, factory=factory).run()
