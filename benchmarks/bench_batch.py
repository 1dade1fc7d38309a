"""Batch throughput on the REPL protocol double, the cross-worker batching window, and the store's cost.

    python benchmarks/bench_batch.py [--theorems 40] [--step-latency 0.05] [--workers 1 2] [--json OUT]
    python benchmarks/bench_batch.py --window [--attempts 400]     (only part 3)

1. **Throughput**: `prover batch`'s runner with the real `Agent`, `ReplEnv`/`ReplPool` and store, on the
   protocol double (``tests/double/repl_double.py``) whose tactic steps sleep ``--step-latency`` seconds to
   stand in for Lean's work; the generator is scripted (instant). Each theorem needs two tactic steps plus
   the soundness-gate re-check. Reports theorems/min for each worker count and the speed-up over 1 worker.
3. **Batching window** (``--window``): 2 workers vs 1 worker at 0, 5 and 50 ms per Lean step, with the
   cross-worker batching window off, fixed at 5 ms (the old default) and adaptive (the default), the
   generator instant; then 2 workers at 5 ms/step with a generator whose call costs 20 ms (a GPU stand-in:
   what merging is for), reporting the calls merged. Worker threads and the real `BatchingGenerator`; Lean
   steps and the model are sleeps, so what is measured is the window's waiting, not CPU contention (on a
   shared machine the end-to-end runs of part 1 vary more than the effect).
2. **Store overhead**: seconds per `ResultStore.record` (one committed SQLite transaction per finished
   attempt) with ``synchronous=FULL`` (the default) and ``NORMAL``, on the run directory's file system.

These are measurements of the batch machinery, not of proving: the double answers from a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from batch_fakes import (  # noqa: E402
    OutcomeAgents,
    ScriptedGenerators,
    double_config,
    double_script,
    double_theorems,
    no_env,
    no_generator,
    theorems,
    write_script,
)

from prover.batch.runner import AgentFactory, BatchRunner  # noqa: E402
from prover.batch.store import AttemptRow, ResultStore  # noqa: E402


def throughput(n: int, workers: int, latency: float, tmp: Path, tag: str = "") -> dict:
    script = double_script(0, n, 0, sleep=latency)
    script["theorems"].pop("bad_statement")
    sp = write_script(tmp / f"s{workers}{tag}.json", script)
    cfg = double_config(sp, **{"batch.attempts": 1, "batch.workers": workers, "search.max_expansions": 4})
    factory = AgentFactory(generator=ScriptedGenerators({}, default=["constructor", "all_goals assumption"]))
    run_dir = tmp / f"run-{workers}{tag}"
    t0 = time.perf_counter()
    s = BatchRunner(cfg, double_theorems(script), run_dir, factory=factory, progress=False).run()
    wall = time.perf_counter() - t0
    with ResultStore.in_run_dir(run_dir, readonly=True) as store:
        proved = store.count("proved")
    assert s.ran == n and proved == n, (s, proved)
    return {
        "workers": workers,
        "theorems": n,
        "wall_s": wall,
        "theorems_per_min": 60.0 * n / wall,
        "generator": s.generator,
    }


def store_overhead(n: int, sync: str, tmp: Path) -> dict:
    d = Path(tempfile.mkdtemp(dir=tmp))
    proof = "theorem t : True := by\n" + "  trivial\n" * 20
    with ResultStore.in_run_dir(d, synchronous=sync) as store:
        sid = store.start_session(argv=["bench"])
        times = []
        for i in range(n):
            row = AttemptRow(f"t{i}", 0, "proved", proof=proof, lean_version="4.24.0", session=sid, time=1.0)
            t0 = time.perf_counter()
            store.record(row)
            times.append(time.perf_counter() - t0)
    return {
        "synchronous": sync,
        "rows": n,
        "mean_ms": 1000 * statistics.mean(times),
        "median_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * sorted(times)[int(0.99 * n) - 1],
    }


def driver_overhead(n: int, sync: str, tmp: Path) -> dict:
    """Whole-runner cost per result with instant fake agents: queueing, store write, progress."""
    from prover.config import load_config

    cfg = load_config(None, {"batch.attempts": 1, "batch.workers": 2, "batch.db_synchronous": sync})
    factory = AgentFactory(generator=no_generator, env=no_env, agent=OutcomeAgents({}, default="proved"))
    t0 = time.perf_counter()
    s = BatchRunner(
        cfg, theorems([f"t{i}" for i in range(n)]), Path(tempfile.mkdtemp(dir=tmp)), factory=factory, progress=False
    ).run()
    wall = time.perf_counter() - t0
    assert s.ran == n
    return {"synchronous": sync, "results": n, "ms_per_result": 1000 * wall / n}


def _simulated(workers: int, step_s: float, mode: str, call_s: float, attempts: int) -> dict:
    """Worker threads running attempts against one `BatchingGenerator`: each attempt is 4 expansions, each one
    generate call then 2 Lean steps of ``step_s`` on average (sleeps of 0.2-1.8 × ``step_s``, as real steps
    vary; the CPU stays free, so only the window's waiting shows). The same job queue and thread layout as
    `LocalBackend`, without REPL processes."""
    import queue
    import random
    import threading

    from prover.batch.runner import BatchingGenerator

    class Model:
        def close(self) -> None:
            pass

        def generate(self, states, premises=None, n=8, *, contexts=None):
            if call_s:
                time.sleep(call_s)
            return [[] for _ in states]

    window = 0.0 if mode == "off" else 0.005
    gen = BatchingGenerator(Model(), callers=workers, window=window, adaptive=mode == "adaptive")
    jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(attempts):
        jobs.put(i)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            try:
                jobs.get_nowait()
            except queue.Empty:
                return
            for _ in range(4):
                gen.generate(["state"], None, 8)
                time.sleep(sum(step_s * rng.uniform(0.2, 1.8) for _ in range(2)))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"attempts_per_s": attempts / wall, "calls": gen.calls, "requests": gen.requests}


def window_comparison(attempts: int, reps: int = 3) -> list[dict]:
    """2 workers vs 1 at 0, 5 and 50 ms per Lean step for each window mode (best of ``reps``), instant
    generator; then 2 workers with a 20 ms generator call (a GPU stand-in: what merging is for)."""
    rows = []
    print("batching window: throughput of 2 workers / 1 worker (instant generator; ideal 2.00x)")
    print(f"{'ms/step':>8} {'off':>7} {'fixed 5ms':>10} {'adaptive':>9}")
    for step in (0.0, 0.005, 0.05):
        n = attempts if step < 0.05 else max(20, attempts // 10)
        ratios = {}
        for mode in ("off", "fixed", "adaptive"):
            one = max((_simulated(1, step, mode, 0.0, n) for _ in range(reps)), key=lambda r: r["attempts_per_s"])
            two = max((_simulated(2, step, mode, 0.0, n) for _ in range(reps)), key=lambda r: r["attempts_per_s"])
            ratios[mode] = two["attempts_per_s"] / one["attempts_per_s"]
            rows.append({"ms_per_step": 1000 * step, "window": mode, "one": one, "two": two, "ratio": ratios[mode]})
        print(f"{1000 * step:>8.0f} {ratios['off']:>6.2f}x {ratios['fixed']:>9.2f}x {ratios['adaptive']:>8.2f}x")
    print("2 workers, 5 ms/step, a 20 ms generator call:")
    for mode in ("off", "fixed", "adaptive"):
        r = max((_simulated(2, 0.005, mode, 0.02, 40) for _ in range(reps)), key=lambda r: r["attempts_per_s"])
        rows.append({"ms_per_step": 5.0, "window": mode, "generator_call_ms": 20, "two": r})
        print(f"  {mode:>8}: {r['attempts_per_s']:.1f} attempts/s, {r['requests']} requests in {r['calls']} calls")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--theorems", type=int, default=40)
    ap.add_argument("--window", action="store_true", help="only the batching-window comparison")
    ap.add_argument("--attempts", type=int, default=400, help="simulated attempts per window measurement")
    ap.add_argument("--step-latency", type=float, default=0.05, help="seconds per scripted tactic step")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--store-rows", type=int, default=500)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    out: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
        "step_latency_s": args.step_latency,
        "throughput": [],
        "store": [],
    }
    if args.window:
        out["window"] = window_comparison(args.attempts)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        return
    throughput(4, 1, 0.0, tmp, "-warmup")  # warm-up: imports, first process start
    for w in args.workers:
        r = throughput(args.theorems, w, args.step_latency, tmp)
        out["throughput"].append(r)
        print(
            f"workers={w}: {r['theorems']} theorems in {r['wall_s']:.2f}s = {r['theorems_per_min']:.0f} theorems/min"
            + (
                f"  (generator: {r['generator']['requests']} requests in {r['generator']['calls']} calls)"
                if r["generator"]
                else ""
            )
        )
    base = out["throughput"][0]["theorems_per_min"]
    for r in out["throughput"][1:]:
        r["speedup_vs_first"] = r["theorems_per_min"] / base
        print(f"speed-up {r['workers']} vs {out['throughput'][0]['workers']} worker(s): {r['speedup_vs_first']:.2f}x")
    for sync in ("FULL", "NORMAL"):
        r = store_overhead(args.store_rows, sync, tmp)
        out["store"].append(r)
        print(
            f"store record (synchronous={sync}): mean {r['mean_ms']:.2f} ms, median {r['median_ms']:.2f} ms, "
            f"p99 {r['p99_ms']:.2f} ms per result ({r['rows']} rows)"
        )
    for sync in ("FULL", "NORMAL"):
        r = driver_overhead(args.store_rows, sync, tmp)
        out.setdefault("driver", []).append(r)
        print(
            f"runner with instant agents (synchronous={sync}): {r['ms_per_result']:.2f} ms per result "
            f"({r['results']} results, 2 workers)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
