"""Batch runs: the prover over a benchmark, K attempts per theorem, resumable, on threads or on Ray.

* `runner`: `BatchRunner` (selection × attempts → jobs → workers → store), `AgentFactory`, `BatchingGenerator`;
* `store`: the SQLite (WAL) results store, one row per (theorem, attempt), written as each attempt ends;
* `passk`: the unbiased pass@k estimator;
* `report`: JSON / CSV / HTML (plots) reports from a store (``prover report RUN_DIR``);
* `ray_backend`: the same batch on a Ray cluster (prover actors on CPUs, generator actors on GPUs).
"""

from prover.batch.runner import AgentFactory, BatchingGenerator, BatchRunner, BatchSummary, run_batch

__all__ = ["AgentFactory", "BatchRunner", "BatchSummary", "BatchingGenerator", "run_batch"]
