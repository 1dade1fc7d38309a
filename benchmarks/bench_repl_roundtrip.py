"""Round-trip cost of the REPL client per request, against the protocol double (no Lean needed).

Measures, on one warm process, N tactic requests that each return a new proof state:

* ``bare pipe``  -- a minimal loop (write the request, read up to the blank line, ``json.loads``): the cost of
  the double itself plus the pipes; the floor any client pays;
* ``request()``  -- `ReplProcess.request` (deadline-bounded I/O, framing, bookkeeping);
* ``tactic()``   -- `ReplProcess.tactic` (plus building the request and classifying the answer);
* ``tactic() + record`` -- the same with ``record_path`` set (one JSONL line per request).

The client's overhead is the difference to the bare pipe, in wall time and in the client's own CPU time
(``time.process_time`` of this process, which excludes the double).

Run: ``python benchmarks/bench_repl_roundtrip.py [-n N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prover.lean.config import LeanConfig  # noqa: E402
from prover.lean.repl import ReplProcess  # noqa: E402

DOUBLE = ROOT / "tests" / "double" / "repl_double.py"
GOAL = "x : Nat\n⊢ x = x"
SCRIPT = {"theorems": {"t": {"goals": [GOAL]}}, "tactics": {GOAL: {"skip": {"goals": [GOAL]}}}}
THEOREM = "theorem t (x : Nat) : x = x := by sorry"


def bare_pipe(cmd: list[str], n: int) -> tuple[float, float]:
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    fd_in, fd_out = p.stdin.fileno(), p.stdout.fileno()
    buf = b""

    def rt(req: dict) -> dict:
        nonlocal buf
        os.write(fd_in, (json.dumps(req) + "\n\n").encode())
        while b"\n\n" not in buf:
            buf += os.read(fd_out, 65536)
        block, buf = buf.split(b"\n\n", 1)
        return json.loads(block)

    ps = rt({"cmd": THEOREM})["sorries"][0]["proofState"]
    for _ in range(200):
        rt({"tactic": "skip", "proofState": ps})
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        rt({"tactic": "skip", "proofState": ps})
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    p.kill()
    p.wait()
    return dt / n, dc / n


def client(cmd: list[str], n: int, mode: str, record: Path | None = None) -> tuple[float, float]:
    cfg = LeanConfig(timeout=10, memory_limit_mb=None, max_rss_mb=None, max_requests=10**9, record_path=record)
    with ReplProcess(cfg, command=cmd) as p:
        ps = p.command(THEOREM).sorries[0].proof_state
        req = {"tactic": "skip", "proofState": ps}
        for _ in range(200):
            p.request(req)
        t0, c0 = time.perf_counter(), time.process_time()
        if mode == "request":
            for _ in range(n):
                p.request(req)
        else:
            for _ in range(n):
                p.tactic("skip", ps)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return dt / n, dc / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5000, help="requests per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.json"
        script.write_text(json.dumps(SCRIPT))
        cmd = [sys.executable, str(DOUBLE), "--script", str(script)]
        rows = {
            "bare pipe": lambda: bare_pipe(cmd, args.n),
            "request()": lambda: client(cmd, args.n, "request"),
            "tactic()": lambda: client(cmd, args.n, "tactic"),
            "tactic() + record": lambda: client(cmd, args.n, "tactic", Path(tmp) / f"rec{time.time_ns()}.jsonl"),
        }
        best = {name: min(f() for _ in range(args.repeat)) for name, f in rows.items()}
    base_wall, base_cpu = best["bare pipe"]
    print(f"REPL client round trip against the protocol double, {args.n} requests, best of {args.repeat} (wall)")
    print(f"{'':20s} {'wall us/req':>12s} {'overhead':>10s} {'client CPU us/req':>18s} {'overhead':>10s}")
    for name, (wall, cpu) in best.items():
        w, c = wall * 1e6, cpu * 1e6
        ow = "" if name == "bare pipe" else f"{w - base_wall * 1e6:+.1f}"
        oc = "" if name == "bare pipe" else f"{c - base_cpu * 1e6:+.1f}"
        print(f"{name:20s} {w:12.1f} {ow:>10s} {c:18.1f} {oc:>10s}")


if __name__ == "__main__":
    main()
