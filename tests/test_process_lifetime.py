"""Process lifetime against real subprocesses: children die with a SIGKILLed batch (REPLs in their own
sessions, Ray actors included), Ctrl-C stops REPLs instead of restarting them, and a signal during start-up
ends in one line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from batch_fakes import DOUBLE, double_script, write_script

REPO = Path(__file__).resolve().parents[1]
ENTRY = [sys.executable, "-c", "from prover.cli import entry; entry()"]


def _benchmark(tmp_path: Path, script: dict) -> Path:
    bench = tmp_path / "bench.jsonl"
    with bench.open("w") as f:
        for name in script["theorems"]:
            row = {"name": name, "header": "import Mathlib\n\n", "formal_statement": f"theorem {name} : True := by"}
            f.write(json.dumps(row) + "\n")
    return bench


def _batch_args(sp: Path, bench: Path, out: Path, *extra: str) -> list[str]:
    return [
        "batch", "--benchmark", str(bench), "--out", str(out), "--workers", "2", "--no-progress", "--no-report",
        "--set", f"lean.repl_command={json.dumps([sys.executable, str(DOUBLE), '--script', str(sp)])}",
        "--set", "lean.memory_limit_mb=null",
        "--set", "generator.backend=automation",
        "--set", "generator.automation=[slow, rfl]",
        "--set", "search.max_expansions=4",
        *extra,
    ]  # fmt: skip


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _slow_script(tmp_path: Path, n: int = 6) -> Path:
    """Theorems whose first tactic ``slow`` takes 60 s (a real Lean stuck in a tactic), then ``rfl``."""
    script = double_script(n, 0, 0)
    for i in range(n):
        script["tactics"][f"x{i} : Nat\n⊢ x{i} = x{i}"]["slow"] = {"sleep": 60}
    return write_script(tmp_path / "s.json", script)


def _start(cmd: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    log = (tmp_path / "log").open("w")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_repls(proc: subprocess.Popen, n: int, timeout: float = 120) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch ended early"
        kids = psutil.Process(proc.pid).children(recursive=True)
        repls = [k for k in kids if "repl_double.py" in " ".join(k.cmdline())]
        if len(repls) >= n:
            return kids
        time.sleep(0.1)
    raise AssertionError("the REPLs did not start")


def _cmd(tmp_path: Path, *global_flags: str, n: int = 6) -> list[str]:
    sp = _slow_script(tmp_path, n)
    bench = _benchmark(tmp_path, json.loads(sp.read_text()))
    return [*ENTRY, *global_flags, *_batch_args(sp, bench, tmp_path / "run", "--set", "lean.timeout=300")]


@pytest.mark.slow
def test_sigkill_of_a_batch_kills_its_lean_processes(tmp_path: Path) -> None:
    """REPLs run in their own sessions; before, 19 of 19 `kill -9`s of a batch left them running (one stuck in a
    long step for a minute). Here every REPL is in a 60 s step when the batch gets SIGKILL (only the batch
    process: nothing else is signalled); within seconds no child of it is left."""
    proc = _start(_cmd(tmp_path), tmp_path)
    kids = _wait_for_repls(proc, 2)
    time.sleep(1.0)  # the REPLs are inside `slow`
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(kids), [" ".join(p.cmdline()) for p in _alive(kids)]


@pytest.mark.slow
def test_ctrl_c_stops_the_repls_and_restarts_none(tmp_path: Path) -> None:
    """Ctrl-C while workers are inside Lean steps: the REPLs are killed and none is started again (with real
    Lean each restart is a Mathlib import), no attempt is retried, exit 130 in one line."""
    proc = _start(_cmd(tmp_path, "-vv"), tmp_path)
    kids = _wait_for_repls(proc, 2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    log = (tmp_path / "log").read_text()
    starts = [line for line in log.splitlines() if "REPL" in line and " started (pid" in line]
    assert len(starts) == 2 and not any("generation 2" in line for line in starts), starts
    assert "retrying" not in log and "Traceback" not in log
    assert log.rstrip().splitlines()[-1].startswith("prover batch: interrupted after")
    deadline = time.monotonic() + 10
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(kids)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_ends_in_one_line(tmp_path: Path, sig: signal.Signals) -> None:
    """Right after the `prover` module is imported (while the subcommands are still loading), Ctrl-C gave a
    KeyboardInterrupt traceback and SIGTERM a silent death."""
    sp = write_script(tmp_path / "s.json", double_script(1, 0, 0))
    bench = _benchmark(tmp_path, json.loads(sp.read_text()))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-X", "importtime", *ENTRY[1:], *_batch_args(sp, bench, tmp_path / "run")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # -X importtime reports each module as its import ends
        if line.rstrip().endswith("| prover.cli"):
            break
    time.sleep(0.1)  # entry() runs; the subcommands load (half a second)
    proc.send_signal(sig)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130
    lines = [x for x in err.splitlines() if not x.startswith("import time:")]
    assert "Traceback" not in err and lines and lines[-1].startswith("prover") and "interrupted" in lines[-1]


def test_a_closed_repl_is_never_started_again(tmp_path: Path) -> None:
    """`close` while another thread waits on a 60 s step: that request ends at once with `LeanSetupError`
    (not a crash to retry), and no process is started again, also on the path that finds the child dead."""
    import threading

    from prover.lean.config import LeanConfig
    from prover.lean.repl import ReplProcess
    from prover.lean.types import LeanSetupError

    sp = _slow_script(tmp_path, 1)
    cfg = LeanConfig(timeout=120, memory_limit_mb=None, max_rss_mb=None)
    proc = ReplProcess(cfg, command=[sys.executable, str(DOUBLE), "--script", str(sp)])
    proc.start()
    root = proc.command("theorem easy_0 : True := by sorry")
    ps = root.sorries[0].proof_state
    errors: list[BaseException] = []

    def step() -> None:
        try:
            proc.tactic("slow", ps)
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    t = threading.Thread(target=step)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.close()
    t.join(timeout=10)
    assert not t.is_alive() and time.monotonic() - t0 < 10
    assert len(errors) == 1 and isinstance(errors[0], LeanSetupError) and "closed" in str(errors[0])
    assert proc.generation == 1 and not proc.alive()
    with pytest.raises(LeanSetupError, match="closed"):
        proc._respawn()  # what a request that found its child dead would do
    assert proc.generation == 1


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["step", "whole"])
def test_sigkill_of_a_ray_batch_kills_its_actors_and_their_lean_processes(tmp_path: Path, mode: str) -> None:
    """`--ray local`: the driver starts a Ray instance whose prover actors (processes) each run a REPL, and in
    mode whole a model actor serving the whole-proof model. After a SIGKILL of the driver, the actors die with
    it (Ray shares an actor's fate with its owner) and so do their REPLs (each actor's watchdog). Ray's own
    helper agents are not the prover's and are left to Ray."""
    pytest.importorskip("ray")
    extra = ["--ray", "local", "--set", "batch.ray_generator_actors=0", "--set", "batch.ray_generator_gpus=0"]
    actors = ["_ProverActor"]
    if mode == "whole":  # the model answers proofs that start with the double's 60 s `slow`
        extra = ["--ray", "local", "--mode", "whole", "--agent-factory", "batch_fakes:slow_whole_factory",
                 "--set", "batch.ray_completion_gpus=0", "--set", "repair.samples=1"]  # fmt: skip
        actors.append("_ModelActor")
    cmd = _cmd(tmp_path) + extra
    proc = _start(cmd, tmp_path)
    kids = _wait_for_repls(proc, 2, timeout=180)
    ours = [
        k for k in kids if "repl_double.py" in " ".join(k.cmdline()) or any(a in " ".join(k.cmdline()) for a in actors)
    ]
    for a in actors:
        assert any(a in " ".join(k.cmdline()) for k in ours), a
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    try:
        deadline = time.monotonic() + 60
        while _alive(ours) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(ours), [" ".join(p.cmdline())[:100] for p in _alive(ours)]
    finally:
        for k in _alive(kids):  # Ray's helper agents outlive a killed driver: do not leave them behind
            with contextlib.suppress(psutil.Error):
                k.kill()
