"""`prover data download`: conversion of upstream sources, tested on local archives built from the shared
JSONL (no network here), and a clear one-line error when the network is unreachable."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from data import download as dl
from data.benchmarks import load_benchmark
from prover.cli import main

FIELDS = ("name", "split", "header", "formal_statement", "informal_statement", "informal_proof", "known_issue")


def _tarball(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _rows(shared: Path, name: str) -> dict[str, list[dict]]:
    return {
        s: [json.loads(x) for x in (shared / "benchmarks" / f"{name}_{s}.jsonl").read_text().splitlines()]
        for s in ("valid", "test")
    }


def _fake_upstream(shared: Path) -> dict[str, bytes]:
    """The upstream files, reconstructed in their upstream layout from the shared JSONL."""
    mf = _rows(shared, "minif2f")
    lean = {"lean-toolchain": "leanprover/lean4:v4.24.0\n"}
    informal = {}
    for split, rows in mf.items():
        for r in rows:
            lean[f"MiniF2F/{split.capitalize()}/{r['name']}.lean"] = r["header"] + r["formal_statement"] + " sorry"
            informal[f"informal/{split}/{r['name'].lower()}.json"] = json.dumps(
                {
                    "problem_name": r["name"],
                    "informal_statement": r["informal_statement"],
                    "informal_proof": r["informal_proof"],
                }
            )
    lean["MiniF2F/Test.lean"] = "import MiniF2F.Test.aime_1983_p1\n"  # not a problem file
    pn = _rows(shared, "proofnet")
    formal_lines, orig = [], {"valid": [], "test": []}
    for split, rows in pn.items():
        for r in rows:
            formal_lines.append(
                json.dumps(
                    {
                        "name": r["name"],
                        "source": "X.lean",
                        "header": r["header"].rstrip("\n") + "\n",
                        "formal_statement": r["formal_statement"] + " sorry",
                        "formal_proof": None,
                        "informal_stmt": "junk",
                        "informal_proof": "junk",
                    }
                )
            )
            orig[split].append(
                json.dumps(
                    {
                        "id": r["proofnet_id"],
                        "formal_statement": "lean 3",
                        "src_header": "import .common",
                        "nl_statement": r["informal_statement"] + "\n",
                        "nl_proof": "\\begin{proof}\n\n    " + r["informal_proof"] + "\n\n\\end{proof}",
                    }
                )
            )
    formal_lines.append(
        json.dumps(
            {
                "name": "Cambridge_Tripos_exercise_2022_IA_4_I_1E_a",
                "header": "",
                "formal_statement": "theorem x : True := sorry",
            }
        )
    )
    F, Inf = dl.MINIF2F_FORMAL, dl.MINIF2F_INFORMAL
    P, Q = dl.PROOFNET_FORMAL, dl.PROOFNET_INFORMAL
    base = "https://codeload.github.com"
    raw = "https://raw.githubusercontent.com"
    return {
        f"{base}/{F.slug}/tar.gz/{F.commit}": _tarball(f"miniF2F-lean4-{F.commit}", lean),
        f"{base}/{Inf.slug}/tar.gz/{Inf.commit}": _tarball(f"miniF2F-{Inf.commit}", informal),
        f"{raw}/{P.slug}/{P.commit}/proofnet_lean4.jsonl": "\n".join(formal_lines).encode(),
        f"{raw}/{P.slug}/{P.commit}/lean-toolchain": b"leanprover/lean4:v4.20.0\n",
        f"{raw}/{Q.slug}/{Q.commit}/benchmark/valid.jsonl": "\n".join(orig["valid"]).encode(),
        f"{raw}/{Q.slug}/{Q.commit}/benchmark/test.jsonl": "\n".join(orig["test"]).encode(),
    }


@pytest.mark.parametrize("name", ["minif2f", "proofnet"])
def test_download_rebuilds_the_shared_jsonl(tmp_path: Path, shared_dir: Path, name: str, monkeypatch) -> None:
    monkeypatch.delenv("PROVER_GITHUB_CODELOAD", raising=False)
    monkeypatch.delenv("PROVER_GITHUB_RAW", raising=False)
    files = _fake_upstream(shared_dir)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if url not in files:
            raise dl.DownloadError(f"cannot download {url}: HTTP 404")
        return files[url]

    paths = dl.download(name, tmp_path, fetch=fetch)
    assert sorted(p.name for p in paths) == [f"{name}_test.jsonl", f"{name}_valid.jsonl"]
    want = _rows(shared_dir, name)
    for split in ("valid", "test"):
        got = [json.loads(x) for x in (tmp_path / f"{name}_{split}.jsonl").read_text().splitlines()]
        assert [{k: r[k] for k in FIELDS} for r in got] == [{k: r[k] for k in FIELDS} for r in want[split]]
        assert all(r["lean_toolchain"].startswith("leanprover/lean4:v4.2") for r in got)
    # The written files load as a benchmark.
    assert len(load_benchmark(name, "all", tmp_path)) == sum(len(v) for v in want.values())


def test_network_failure_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    # A real HTTP client against a closed local port: connection refused, reported in one line.
    monkeypatch.setenv("PROVER_GITHUB_CODELOAD", "http://127.0.0.1:9")
    monkeypatch.setenv("PROVER_GITHUB_RAW", "http://127.0.0.1:9")
    rc = main(["data", "download", "minif2f", "--dest", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("prover data download: error: cannot download http://127.0.0.1:9/yangky11/miniF2F-lean4/")
    assert "\n" not in err
    assert not (tmp_path / "out" / "minif2f_test.jsonl").exists()


def test_bad_archive_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError, match="not a readable source archive"):
        dl.download("minif2f", tmp_path, fetch=lambda url: b"<html>rate limited</html>")
    with pytest.raises(dl.DownloadError, match="unknown benchmark 'lean-workbook'"):
        dl.download("lean-workbook", tmp_path, fetch=lambda url: b"")
