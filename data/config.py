"""Configuration of benchmark loading and batch runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

_REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The one definition of where the shared data directory is (benchmarks, real REPL transcripts and Lean
    errors; read by path, never copied into the repo): ``$PROVER_SHARED_DIR``, else ``shared/`` beside this
    checkout. It may not exist (a user's machine)."""
    if os.environ.get("PROVER_SHARED_DIR"):
        return Path(os.environ["PROVER_SHARED_DIR"])
    return _REPO.parent / "shared"


def default_benchmark_dir() -> Path:
    """``$PROVER_BENCHMARK_DIR``, else ``benchmarks/`` of the shared data directory (`shared_data_dir`) if it
    is there, else the download cache ``~/.cache/prover/benchmarks``."""
    if "PROVER_BENCHMARK_DIR" in os.environ:
        return Path(os.environ["PROVER_BENCHMARK_DIR"])
    shared = shared_data_dir() / "benchmarks"
    if "PROVER_SHARED_DIR" in os.environ or shared.is_dir():
        return shared
    return download_dir()


def download_dir() -> Path:
    """Where ``prover data download`` writes: ``$PROVER_BENCHMARK_DIR`` or ``~/.cache/prover/benchmarks``."""
    if "PROVER_BENCHMARK_DIR" in os.environ:
        return Path(os.environ["PROVER_BENCHMARK_DIR"])
    return Path.home() / ".cache" / "prover" / "benchmarks"


class BatchConfig(BaseModel):
    model_config = {"extra": "forbid"}

    benchmark_dir: Path = Field(default_factory=default_benchmark_dir)
    attempts: int = 1  # K independent attempts per theorem
    workers: int = 1  # Lean workers (threads, one REPL process each) on this machine
    seed: int = 0  # attempt i of a theorem runs with seed `seed + i`
    # Statements flagged `known_issue` (false / vacuous): "mark" runs them and reports them apart,
    # "skip" leaves them out of the run (listed in the report), "include" treats them like the rest.
    known_issues: Literal["mark", "skip", "include"] = "mark"
    # PutnamBench answer placeholders (`data.putnambench`): "inline" puts upstream's answers into the statements
    # (upstream's own rewrite, the leaderboard's with-answer track), "free" makes the prover write them.
    answers: Literal["inline", "free"] = "inline"
    # An attempt cut short by infrastructure (Lean crashed or ran out of memory, a timeout of the statement or of
    # the gate, a dead worker) is an "error" with its cause, never a final "failed": it is tried again at once
    # on a fresh agent `retries` times, and by resumed runs (`retry_errors_on_resume`) until it has been tried
    # `max_tries` times in all; after that it stays an error (reported apart, never counted as failed).
    retries: int = Field(1, ge=0)
    retry_errors_on_resume: bool = True
    max_tries: int = Field(4, ge=1)
    # Generator calls from several workers are merged into one call (GPU batching). The first caller waits up to
    # `batch_window_ms` for the others: "adaptive" only as long as merging can pay (a share of a generator call's
    # measured time, and only for workers expected back by then); "fixed" the whole window every time; 0 = never.
    batch_generator_calls: bool = True
    batch_window_ms: float = Field(5.0, ge=0)
    batch_window_mode: Literal["adaptive", "fixed"] = "adaptive"
    max_batch_states: int = Field(64, ge=1)
    # Write each attempt's search graph (failed edges included: training data for `prover data export`) to
    # GRAPHS_DIR/<theorem>/<attempt>.json.gz; `prover batch --save-graphs` sets it to RUN_DIR/graphs.
    graphs_dir: Path | None = None
    # SQLite `synchronous` of the results store: FULL survives power loss, NORMAL only process crashes.
    db_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Ray backend (`--ray auto|ADDRESS`)
    ray_address: str | None = None
    # 0: every prover actor builds its own generator (e.g. an HTTP endpoint)
    ray_generator_actors: int = Field(1, ge=0)
    ray_generator_gpus: float = Field(1.0, ge=0)  # GPUs per generator actor (0 for CPU-only tests)
    ray_prover_cpus: float = Field(1.0, gt=0)  # CPUs per prover actor (one Lean process each)
    ray_max_restarts: int = Field(2, ge=0)  # a prover actor that dies is restarted this many times
    # The completion models of the whole-proof modes (the whole-proof model; sketch's draft and sketch models)
    # that run in-process (hf / vllm): actors per model and GPUs per actor (None: as ray_generator_actors /
    # ray_generator_gpus). 0 actors: every prover actor loads its own copy. Models behind HTTP or replayed from
    # a file are never put on actors: every prover actor talks to the server / reads the file itself.
    ray_completion_actors: int | None = Field(None, ge=0)
    ray_completion_gpus: float | None = Field(None, ge=0)

    @field_validator("attempts", "workers")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v


class ExportConfig(BaseModel):
    """Curation of `prover data export` (`data.export`); the ``[train.export]`` config section."""

    model_config = {"extra": "forbid"}

    # Held-out sets (BENCHMARK:SPLIT, BENCHMARK, or a .jsonl/.lean path): never in the output, checked.
    holdout: list[str] = Field(default_factory=lambda: ["minif2f:test", "proofnet:test"])
    valid_fraction: float = Field(0.02, ge=0.0, le=1.0)  # share of theorems (by name hash) in the valid split
    file_format: Literal["jsonl", "parquet"] = "jsonl"
    drop_automation_proofs: bool = True  # sft: drop theorems the automation portfolio alone proves
    easy_solve_rate: float | None = Field(None, gt=0.0, le=1.0)  # sft: drop theorems solved this often (>= 2 tries)
    # dpo: which failed siblings of a proof-path tactic count as rejected
    dpo_negatives: list[Literal["error", "dead_end", "cycle", "unsound", "timeout"]] = Field(
        default_factory=lambda: ["error", "dead_end", "unsound"]
    )
    max_pairs_per_state: int = Field(8, ge=1)
    # sft: a tactic tried >= ineffective_min_tries times that reached a proved state in < ineffective_rate of
    # its tries keeps at most ineffective_cap rows (None: no cap)
    ineffective_rate: float = Field(0.05, ge=0.0, le=1.0)
    ineffective_min_tries: int = Field(20, ge=1)
    ineffective_cap: int | None = Field(1000, ge=1)
    critic_distance_cap: int = Field(16, ge=1)  # critic label: -min(distance, cap); dead states -cap
    # sft: with a scoring model (--ppl-model), drop rows below / above these perplexity quantiles
    ppl_model: str | None = None
    ppl_low: float = Field(0.05, ge=0.0, lt=1.0)
    ppl_high: float = Field(0.95, gt=0.0, le=1.0)
    ppl_batch_size: int = Field(16, ge=1)
    ppl_device: str = "auto"
