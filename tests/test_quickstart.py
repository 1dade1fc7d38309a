"""scripts/quickstart.sh on a fake machine (fake curl, python3, pip and prover record what they are asked):
the network is checked before anything is installed, torch is the CPU build unless an NVIDIA GPU is there,
and a first run is small."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _exe(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _machine(tmp_path: Path, *, unreachable: str = "", gpu: bool = False) -> tuple[Path, Path]:
    """A PATH of fakes; every call is logged to ``log``."""
    bindir, log = tmp_path / "bin", tmp_path / "log"
    for tool in ("dirname", "cat", "printf", "mkdir", "cp", "chmod"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).parent.mkdir(parents=True, exist_ok=True)
            (bindir / tool).symlink_to(found)
    fail = f'case "$*" in *{unreachable}*) exit 6;; esac; ' if unreachable else ""
    _exe(bindir / "curl", f'echo "curl $*" >> {log}; {fail}exit 0')
    venv = tmp_path / "venv"
    _exe(
        bindir / "python3",
        f'echo "python3 $*" >> {log}; mkdir -p {venv}/bin; '
        f"printf '#!/bin/sh\\necho \"pip $*\" >> {log}\\n' > {venv}/bin/pip; "
        f"printf '#!/bin/sh\\necho \"prover $*\" >> {log}\\n' > {venv}/bin/prover; "
        f"cp {venv}/bin/pip {venv}/bin/python; chmod +x {venv}/bin/*",
    )
    if gpu:
        _exe(bindir / "nvidia-smi", "echo 'GPU 0: NVIDIA H100'")
    return bindir, log


def _run(tmp_path: Path, bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": str(bindir),
        "HOME": str(tmp_path),
        "VENV": str(tmp_path / "venv"),
        "SETUP_LEAN": "true",
        "QUICKSTART_OUT": str(tmp_path / "run"),
    }
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(REPO / "scripts" / "quickstart.sh"), *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_no_network_stops_before_installing_anything(tmp_path: Path) -> None:
    bindir, log = _machine(tmp_path, unreachable="huggingface.co")
    r = _run(tmp_path, bindir)
    assert r.returncode == 1 and "cannot reach: https://huggingface.co (the generator model)" in r.stderr
    assert "nothing was installed" in r.stderr
    assert all(line.startswith("curl ") for line in log.read_text().splitlines())  # no python3, pip, prover


def test_cpu_torch_and_a_small_first_run(tmp_path: Path) -> None:
    bindir, log = _machine(tmp_path)
    r = _run(tmp_path, bindir, "--workers", "2")
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    assert "pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in calls
    assert calls[-1].endswith(f"--out {tmp_path / 'run'} --workers 2 --limit 10") and "first run" in r.stdout
    # a GPU machine gets the CUDA build; an explicit --limit (or a run to resume) is left alone
    bindir, log = _machine(tmp_path / "gpu", gpu=True)
    r = _run(tmp_path / "gpu", bindir, "--limit", "50")
    calls = log.read_text().splitlines()
    assert "pip install -q torch==2.13.0" in calls and calls[-1].endswith("--limit 50")
