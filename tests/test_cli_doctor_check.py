"""Project discovery (`prover.lean.project`), ``prover doctor``, ``prover check`` and the setup script's
failure messages. Lean itself is not needed: fake toolchains / projects are built in tmp dirs, and
``prover check`` talks to the REPL protocol double through ``lean.repl_command``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prover.cli import main
from prover.lean.config import LeanConfig
from prover.lean.project import (
    diagnose,
    read_toolchain,
    resolve_repl_command,
    toolchain_dir,
    toolchain_version,
)
from prover.lean.types import LeanSetupError

REPO = Path(__file__).resolve().parents[1]
DOUBLE = REPO / "tests" / "double" / "repl_double.py"
TOOLCHAIN = "leanprover/lean4:v4.24.0"

# ---------------------------------------------------------------------------------------------------
# A fake Lean installation


def _exe(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def fake_project(
    root: Path,
    *,
    lean_version: str = "4.24.0",
    mathlib_built: bool = True,
    repl_built: bool = True,
    repl_toolchain: str = TOOLCHAIN,
    toolchain_installed: bool = True,
) -> Path:
    project = root / "proj"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "P"\n[[require]]\nname = "mathlib"\n')
    (project / "lean-toolchain").write_text(TOOLCHAIN + "\n")
    pkgs = project / ".lake" / "packages"
    (pkgs / "mathlib").mkdir(parents=True)
    (pkgs / "mathlib" / "lean-toolchain").write_text(TOOLCHAIN + "\n")
    if mathlib_built:
        olean = pkgs / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
        olean.parent.mkdir(parents=True)
        olean.write_bytes(b"olean")
    (pkgs / "REPL").mkdir()
    (pkgs / "REPL" / "lean-toolchain").write_text(repl_toolchain + "\n")
    if repl_built:
        _exe(pkgs / "REPL" / ".lake" / "build" / "bin" / "repl", "exit 0")
    if toolchain_installed:
        bindir = toolchain_dir(TOOLCHAIN) / "bin"
        _exe(bindir / "lean", f'echo "Lean (version {lean_version}, x86_64-unknown-linux-gnu, commit 0, Release)"')
        _exe(bindir / "lake", f'echo "Lake version 5.0.0-0 (Lean version {lean_version})"')
    return project


@pytest.fixture
def elan_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "elan"
    _exe(home / "bin" / "elan", 'echo "elan 4.1.2"')
    monkeypatch.setenv("ELAN_HOME", str(home))
    monkeypatch.setenv("PATH", f"{home / 'bin'}:/usr/bin:/bin")
    return home


def _by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_toolchain_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELAN_HOME", str(tmp_path))
    assert toolchain_dir(TOOLCHAIN) == tmp_path / "toolchains" / "leanprover--lean4---v4.24.0"
    assert toolchain_version(TOOLCHAIN) == "4.24.0"
    assert toolchain_version("leanprover/lean4:v4.33.0-rc2") == "4.33.0-rc2"
    assert read_toolchain(REPO / "lean_project") == TOOLCHAIN
    assert read_toolchain(tmp_path) is None


def _fake_lake(tmp_path: Path, version_line: str | None) -> Path:
    """A stand-in for lake: ``lake env lean --version`` prints ``version_line`` (exit 1 when None, as a lake
    whose toolchain cannot run), ``lake env CMD...`` runs CMD (how `lake env` starts the REPL)."""
    lake = tmp_path / "bin" / "lake"
    lake.parent.mkdir(parents=True, exist_ok=True)
    answer = f"echo '{version_line}'; exit 0" if version_line else "echo 'lean: cannot execute' >&2; exit 1"
    lake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = env ] || exit 2\nshift\n'
        f'if [ "$1" = lean ] && [ "$2" = --version ]; then {answer}; fi\n'
        'exec "$@"\n'
    )
    lake.chmod(0o755)
    return lake


def test_the_lean_version_is_asked_of_the_lean_the_repl_runs(tmp_path: Path) -> None:
    """The REPL prints no version (the double's old stderr banner was the mechanism, and it invented one):
    through `lake env` the version comes from `lake env lean --version` in the project, else from its
    lean-toolchain (saying so); any other command: unknown."""
    from prover.lean.project import repl_lean_version
    from prover.lean.repl import ReplProcess

    # `lean --version` of Lean 4 prints "Lean (version 4.24.0, x86_64-unknown-linux-gnu, commit …, Release)"
    lake = _fake_lake(tmp_path / "ok", "Lean (version 4.99.1, x86_64-unknown-linux-gnu, commit 0123abcd, Release)")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.98.0\n")
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"theorems": {}, "tactics": {}}))
    cmd = [str(lake), "env", sys.executable, str(REPO / "tests" / "double" / "repl_double.py"), "--script", str(script)]
    cfg = LeanConfig(repl_command=cmd, project_dir=project, memory_limit_mb=None, max_rss_mb=None, timeout=10)
    with ReplProcess(cfg) as proc:
        assert proc.command("example : True := trivial").ok  # a REPL really started through the fake lake
        assert (proc.lean_version, proc.lean_version_source) == ("4.99.1", f"`lake env lean --version` in {project}")
    broken = _fake_lake(tmp_path / "broken", None)
    v = repl_lean_version([str(broken), "env", "repl"], project)
    assert v.version == "4.98.0" and v.source.startswith(f"lean-toolchain of {project}")
    v = repl_lean_version([sys.executable, "repl_double.py"], project)
    assert v.version is None and v.source.startswith("unknown")


def test_lean_project_is_pinned_consistently() -> None:
    """lean-toolchain, the lakefile's tags and the manifest agree on one Lean release."""
    project = REPO / "lean_project"
    lakefile = (project / "lakefile.toml").read_text()
    assert lakefile.count('rev = "v4.24.0"') == 2 and 'name = "REPL"' in lakefile and 'name = "mathlib"' in lakefile
    manifest = json.loads((project / "lake-manifest.json").read_text())
    pkgs = {p["name"]: p for p in manifest["packages"]}
    assert pkgs["mathlib"]["inputRev"] == "v4.24.0" and pkgs["REPL"]["inputRev"] == "v4.24.0"
    assert pkgs["REPL"]["url"] == "https://github.com/leanprover-community/repl"


def test_complete_fake_install(tmp_path: Path, elan_home: Path) -> None:
    project = fake_project(tmp_path)
    cfg = LeanConfig(project_dir=project)
    checks = _by_name(diagnose(cfg))
    assert all(c.ok for c in checks.values()), checks
    assert checks["toolchain"].found == f"{TOOLCHAIN} (lean 4.24.0)"
    cmd, cwd = resolve_repl_command(cfg)
    assert cmd == [
        str(toolchain_dir(TOOLCHAIN) / "bin" / "lake"),
        "env",
        str(project / ".lake/packages/REPL/.lake/build/bin/repl"),
    ]
    assert cwd == project


@pytest.mark.parametrize(
    ("kw", "item", "message", "fix"),
    [
        ({"toolchain_installed": False}, "toolchain", "is not installed", f"elan toolchain install {TOOLCHAIN}"),
        ({"lean_version": "4.9.0"}, "toolchain", "Lean 4.9.0 found but", "elan toolchain install"),
        ({"mathlib_built": False}, "Mathlib", "not built", "lake exe cache get"),
        ({"repl_built": False}, "REPL binary", "REPL binary not built", "lake build REPL/repl"),
        ({"repl_toolchain": "leanprover/lean4:v4.9.0"}, "REPL binary", "pinned to leanprover/lean4:v4.9.0", "v4.24.0"),
    ],
)
def test_each_missing_piece_has_one_line_and_a_fix(tmp_path: Path, elan_home: Path, kw, item, message, fix) -> None:
    project = fake_project(tmp_path, **kw)
    cfg = LeanConfig(project_dir=project)
    bad = [c for c in diagnose(cfg) if not c.ok and c.required]
    assert bad and bad[0].name == item and message in bad[0].found and fix in (bad[0].fix or "")
    with pytest.raises(LeanSetupError) as e:
        resolve_repl_command(cfg)
    assert "\n" not in str(e.value) and message in str(e.value) and fix in str(e.value)


def test_no_project_no_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(LeanSetupError, match="no Lake project at"):
        resolve_repl_command(LeanConfig(project_dir=tmp_path / "missing"))
    with pytest.raises(LeanSetupError, match=r"lake not found .*setup_lean\.sh"):
        resolve_repl_command(LeanConfig(project_dir=REPO / "lean_project"))
    # an explicit command is used as is
    cmd, cwd = resolve_repl_command(LeanConfig(project_dir=tmp_path / "missing", repl_command=["x", "y"]))
    assert cmd == ["x", "y"] and cwd == Path.cwd()


def test_env_var_selects_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVER_LEAN_PROJECT", str(tmp_path))
    assert LeanConfig().project_dir == tmp_path


# ---------------------------------------------------------------------------------------------------
# prover doctor


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never use the hub: doctor asks only the (empty) local cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_doctor_json_ready_with_fake_lean(tmp_path: Path, elan_home: Path, capsys: pytest.CaptureFixture) -> None:
    project = fake_project(tmp_path)
    rc = main(["doctor", "--json", "--lean-project", str(project), "--backend", "automation"])
    out = json.loads(capsys.readouterr().out)
    assert {"Python environment", "Lean", "Accelerators and engines", "ready"} <= set(out)
    lean = {c["name"]: c for c in out["Lean"]}
    assert lean["REPL binary"]["ok"] and lean["Mathlib"]["ok"]
    required_python_ok = all(c["ok"] for c in out["Python environment"] if c["required"])
    assert out["ready"] is required_python_ok and rc == (0 if required_python_ok else 1)


def test_doctor_table_when_lean_is_missing(tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("COLUMNS", "160")
    rc = main(["doctor", "--lean-project", str(REPO / "lean_project")])
    out = capsys.readouterr().out
    assert rc == 1
    for word in ("Python", "lake", "Mathlib", "REPL binary", "CUDA GPU", "vllm", "ray", "MISSING"):
        assert word in out, word
    assert "Proving cannot work yet" in out and "setup_lean.sh" in out


# ---------------------------------------------------------------------------------------------------
# prover check, on the REPL protocol double

GOAL = "x : Nat\n⊢ x = x"
SCRIPT = {
    "lean_version": "4.24.0-double",
    "theorems": {"t1": {"goals": [GOAL]}, "t2": {"goals": [GOAL]}},
    "tactics": {
        GOAL: {
            "rfl": {"goals": [], "axioms": []},
            "simp": {"goals": [], "axioms": ["propext"]},
            "native_decide": {"goals": [], "axioms": ["propext", "Lean.ofReduceBool"]},
            "bad": {"error": "unknown identifier 'bad'"},
            "slow": {"sleep": 30},
        }
    },
}


@pytest.fixture
def double_config(tmp_path: Path) -> Path:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    cfg = tmp_path / "cfg.yaml"
    cmd = [sys.executable, str(DOUBLE), "--script", str(script)]
    cfg.write_text(f"lean:\n  repl_command: {json.dumps(cmd)}\n  timeout: 20\n  header_timeout: 20\n")
    return cfg


def _lean_file(tmp_path: Path, body: str, name: str = "F.lean") -> Path:
    f = tmp_path / name
    f.write_text("import Mathlib\n\n" + body)
    return f


def test_check_sound_file(tmp_path: Path, double_config: Path, capsys: pytest.CaptureFixture) -> None:
    f = _lean_file(tmp_path, "theorem t1 (x : Nat) : x = x := by\n  simp\n")
    assert main(["check", str(f), "--config", str(double_config)]) == 0
    out = capsys.readouterr().out
    assert f"{f}: OK, sound (axioms: propext)\n" in out  # no "[Lean …]": the double runs on no Lean


def test_check_errors_as_file_line_col(tmp_path: Path, double_config: Path, capsys: pytest.CaptureFixture) -> None:
    f = _lean_file(tmp_path, "theorem t1 (x : Nat) : x = x := by\n  rfl\n\ntheorem t2 (x : Nat) : x = x := by\n  bad\n")
    assert main(["check", str(f), "--config", str(double_config)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:7:2: error: unknown identifier 'bad'" in out  # the line in the file, header included
    assert "NOT SOUND" in out and "1 error(s), first at 7:2: unknown identifier 'bad'" in out


def test_check_axioms_sorry_and_theorem_flag(tmp_path: Path, double_config: Path, capsys) -> None:
    f = _lean_file(
        tmp_path, "theorem t1 (x : Nat) : x = x := by\n  rfl\n\ntheorem t2 (x : Nat) : x = x := by\n  native_decide\n"
    )
    assert main(["check", str(f), "--config", str(double_config)]) == 1
    assert "t2 uses disallowed axiom(s) Lean.ofReduceBool" in capsys.readouterr().out
    assert main(["check", str(f), "--theorem", "t1", "--config", str(double_config)]) == 0
    capsys.readouterr()
    f2 = _lean_file(tmp_path, "theorem t1 (x : Nat) : x = x := by\n  sorry\n", "S.lean")
    assert main(["check", str(f2), "--config", str(double_config), "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["sound"] is False and "contains sorry" in res["reasons"]
    assert any("declaration uses `sorry`" in m for m in res["messages"])


def test_check_timeout_is_not_sound(tmp_path: Path, double_config: Path, capsys: pytest.CaptureFixture) -> None:
    f = _lean_file(tmp_path, "theorem t1 (x : Nat) : x = x := by\n  slow\n")
    assert main(["check", str(f), "--config", str(double_config), "--timeout", "1"]) == 1
    assert "timed out" in capsys.readouterr().err


def test_check_bad_input_exits_2(tmp_path: Path, double_config: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["check", str(tmp_path / "missing.lean")]) == 2
    assert "file not found" in capsys.readouterr().err
    f = _lean_file(tmp_path, "theorem t1 (x : Nat) : x = x := by\n  rfl\n")
    assert main(["check", str(f), "--theorem", "nope", "--config", str(double_config)]) == 2
    assert "no declaration named nope (it declares: t1)" in capsys.readouterr().err
    assert main(["check", str(f), "--lean-project", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "LeanSetupError" in err and "no Lake project" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------------
# scripts/setup_lean.sh says plainly what is wrong


def _run_setup(project: Path, path: str, home: Path) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": str(home), "ELAN_HOME": str(home / ".elan")}
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(REPO / "scripts" / "setup_lean.sh"), str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git on PATH")
def test_setup_script_failures(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    shutil.copytree(REPO / "lean_project", project, ignore=shutil.ignore_patterns(".lake"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("git", "df", "awk", "sed", "head", "tr", "grep", "mktemp", "timeout", "dirname", "cat", "sh"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bindir / tool)
    path = str(bindir)
    # no project
    r = _run_setup(tmp_path / "nope", path, tmp_path)
    assert r.returncode == 1 and "no Lean project at" in r.stderr
    # wget but no curl: elan would install, then Mathlib's cache downloader (it runs curl) would fail; say so
    # before any install
    _exe(bindir / "wget", "exit 0")
    _exe(bindir / "elan", "echo elan-should-not-run >&2; exit 1")
    r = _run_setup(project, path, tmp_path)
    assert r.returncode == 1 and "curl is not installed" in r.stderr and "lake exe cache get" in r.stderr
    assert "elan-should-not-run" not in r.stderr and "install curl" in r.stderr
    _exe(bindir / "curl", "exit 0")  # present from here on
    # lake of another Lean version
    _exe(bindir / "elan", f'[ "$1" = toolchain ] && echo "{TOOLCHAIN}"; exit 0')
    _exe(bindir / "lake", 'echo "Lake version 5.0.0 (Lean version 4.9.0)"')
    r = _run_setup(project, path, tmp_path)
    assert r.returncode == 1 and f"lake runs Lean 4.9.0 but {project}/lean-toolchain pins {TOOLCHAIN}" in r.stderr
    assert "setup_lean: fix:" in r.stderr
    # the right version, but no network for the cache
    _exe(bindir / "lake", '[ "$1" = --version ] && echo "Lake version 5.0.0 (Lean version 4.24.0)" && exit 0; exit 1')
    r = _run_setup(project, path, tmp_path)
    assert r.returncode == 1 and "could not fetch Mathlib's cache" in r.stderr and "network" in r.stderr


def test_check_on_a_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from prover.cli import main

    assert main(["check", str(tmp_path)]) == 2
    assert "not a file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# prover doctor: the config's REPL command, the generator's model, the index, the benchmarks


def _doctor(capsys, *args: str) -> tuple[int, dict]:
    rc = main(["doctor", "--json", *args])
    return rc, json.loads(capsys.readouterr().out)


def _item(out: dict, group: str, name: str) -> dict:
    return next(c for c in out[group] if c["name"].startswith(name))


def test_doctor_checks_the_repl_command_the_config_names(tmp_path: Path, capsys) -> None:
    double = [sys.executable, str(REPO / "tests" / "double" / "repl_double.py")]
    rc, out = _doctor(capsys, "--backend", "automation", "--set", f"lean.repl_command={json.dumps(double)}")
    names = [c["name"] for c in out["Lean"]]
    assert names == ["REPL command (lean.repl_command)", "Lean version"]  # not the default lake / REPL binary
    assert out["Lean"][0]["ok"] and not out["Lean"][1]["ok"] and "unknown" in out["Lean"][1]["found"]
    rc, out = _doctor(capsys, "--backend", "automation", "--set", 'lean.repl_command=["/nowhere/repl"]')
    assert rc == 1 and not out["ready"] and "/nowhere/repl not found" in out["Lean"][0]["found"]


def test_doctor_checks_the_model_without_downloading_or_retrying(tmp_path: Path, capsys) -> None:
    group = "Models, premises and benchmarks"
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    _, out = _doctor(capsys, "--model", str(folder))
    assert _item(out, group, "generator model")["ok"]
    # a hub id that is not cached, with HF_HUB_OFFLINE: missing, with the command that fetches it
    _, out = _doctor(capsys, "--model", "someone/not-cached-model")
    item = _item(out, group, "generator model")
    assert not item["ok"] and item["required"] and "HF_HUB_OFFLINE" in item["found"]
    assert "hf download someone/not-cached-model" in item["fix"] and not out["ready"]


@pytest.mark.parametrize(
    ("status", "ok", "words"),
    [(200, True, "first run downloads"), (404, False, "no such model"), (401, False, "gated or private")],
)
def test_doctor_asks_the_hub_once(tmp_path: Path, capsys, monkeypatch, status: int, ok: bool, words: str) -> None:
    """One HEAD to the hub (here a local server standing in for it), answered at once: the loader would
    otherwise spend ~26 s in retries before failing."""
    import http.server
    import threading

    seen: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        _, out = _doctor(capsys, "--model", "org/some-model")
    finally:
        server.shutdown()
    item = _item(out, "Models, premises and benchmarks", "generator model")
    assert item["ok"] is ok and words in item["found"] and seen == ["/api/models/org/some-model"]


def test_doctor_checks_the_server_the_index_and_the_benchmarks(tmp_path: Path, capsys, shared_dir: Path) -> None:
    group = "Models, premises and benchmarks"
    _, out = _doctor(capsys, "--backend", "openai", "--set", "generator.endpoint=http://127.0.0.1:9/v1")
    item = _item(out, group, "generator model")
    assert not item["ok"] and "no answer from http://127.0.0.1:9/v1/models" in item["found"]
    _, out = _doctor(capsys, "--backend", "automation", "--set", "retrieval.enabled=true")
    item = _item(out, group, "premise index")
    assert not item["ok"] and "retrieval.index_dir is not set" in item["found"] and "prover index build" in item["fix"]
    _, out = _doctor(capsys, "--backend", "automation", "--benchmark-dir", str(shared_dir / "benchmarks"))
    item = _item(out, group, "benchmark minif2f")
    assert item["ok"] and "valid, test" in item["found"]
    _, out = _doctor(capsys, "--backend", "automation", "--benchmark-dir", str(tmp_path))
    item = _item(out, group, "benchmark minif2f")
    assert not item["ok"] and not item["required"] and item["fix"] == "prover data download minif2f"
