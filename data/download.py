"""`prover data download minif2f|proofnet`: fetch the upstream sources and convert them to our JSONL.

The project never ships benchmark data; this rebuilds, from the pinned upstream commits, the same JSONL
files as ``../shared/benchmarks/`` (fields ``name, split, header, formal_statement, informal_statement,
informal_proof, source, lean_toolchain, known_issue``):

* miniF2F: ``yangky11/miniF2F-lean4`` (``MiniF2F/{Valid,Test}/*.lean``, one theorem per file ending
  ``:= by sorry``) plus the informal statements/proofs of ``facebookresearch/miniF2F``
  (``informal/{valid,test}/*.json``, names matched case-insensitively).
* ProofNet: ``rahul3613/ProofNet-lean4`` (``proofnet_lean4.jsonl``, Lean 4 statements) with split,
  ``nl_statement`` and ``nl_proof`` from ``zhangir-azerbayev/ProofNet`` (``benchmark/{valid,test}.jsonl``);
  rows not in the original ProofNet (Cambridge Tripos) are left out.

``known_issue`` comes from `data.known_issues` (statements known to be false or vacuous at the pinned
commits). Network access goes through one ``fetch(url) -> bytes`` function so the conversion is testable
on local files; any network failure is one `DownloadError` line.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.benchmarks import parse_lean
from data.known_issues import KNOWN_ISSUES
from prover.errors import UserError

Fetch = Callable[[str], bytes]


class DownloadError(UserError):
    """The upstream source could not be fetched or is not what we expect (one line)."""


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str
    commit: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    def tarball_url(self, base: dict[str, str]) -> str:
        return f"{base['codeload']}/{self.slug}/tar.gz/{self.commit}"

    def raw_url(self, base: dict[str, str], path: str) -> str:
        return f"{base['raw']}/{self.slug}/{self.commit}/{path}"


MINIF2F_FORMAL = Repo("yangky11", "miniF2F-lean4", "5746b7d6c47855ce1294bed87329618ff7f1bc31")
MINIF2F_INFORMAL = Repo("facebookresearch", "miniF2F", "e4f113090ad82d64f8ce064d2f55b613a9b6bded")
PROOFNET_FORMAL = Repo("rahul3613", "ProofNet-lean4", "6deae98b38954dadf732746d023e8be65c56f246")
PROOFNET_INFORMAL = Repo("zhangir-azerbayev", "ProofNet", "509ad79710ed4f46ff5c282ed5640c1aa9ac3f30")

GITHUB = {"codeload": "https://codeload.github.com", "raw": "https://raw.githubusercontent.com"}


def http_fetch(url: str, timeout: float = 60.0) -> bytes:
    """GET ``url`` (redirects followed); any failure is a one-line `DownloadError`."""
    import httpx

    try:
        r = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DownloadError(
            f"cannot download {url}: {reason} (no network? download on a machine with access and copy the JSONL "
            "files into PROVER_BENCHMARK_DIR)"
        ) from e
    if r.status_code != 200:
        raise DownloadError(f"cannot download {url}: HTTP {r.status_code}")
    return r.content


def _bases() -> dict[str, str]:
    """GitHub hosts; ``PROVER_GITHUB_CODELOAD`` / ``PROVER_GITHUB_RAW`` override them (mirrors, tests)."""
    return {
        "codeload": os.environ.get("PROVER_GITHUB_CODELOAD", GITHUB["codeload"]).rstrip("/"),
        "raw": os.environ.get("PROVER_GITHUB_RAW", GITHUB["raw"]).rstrip("/"),
    }


def _tar_members(data: bytes, url: str, pattern: str) -> dict[str, str]:
    """Text of the tarball members whose path (without the top folder) matches ``pattern``."""
    rx = re.compile(pattern)
    out: dict[str, str] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                rel = m.name.split("/", 1)[1] if "/" in m.name else m.name
                if rx.fullmatch(rel):
                    f = tar.extractfile(m)
                    if f is not None:
                        out[rel] = f.read().decode("utf-8")
    except (tarfile.TarError, EOFError, UnicodeDecodeError) as e:
        raise DownloadError(f"{url}: not a readable source archive ({e})") from e
    return out


def _known_issue(benchmark: str, split: str, name: str) -> str | None:
    return KNOWN_ISSUES.get((benchmark, split, name))


# ---------------------------------------------------------------------------------------------------
# miniF2F


def convert_minif2f(
    lean_files: dict[str, str],
    informal_files: dict[str, str],
    toolchain: str = "",
    formal: Repo = MINIF2F_FORMAL,
) -> dict[str, list[dict[str, Any]]]:
    """``MiniF2F/{Valid,Test}/X.lean`` texts + ``informal/{valid,test}/X.json`` texts -> rows per split."""
    informal: dict[tuple[str, str], dict[str, Any]] = {}
    for rel, text in informal_files.items():
        m = re.fullmatch(r"informal/(valid|test)/(.+)\.json", rel)
        if not m:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DownloadError(f"{formal.slug}: informal file {rel}: invalid JSON ({e.msg})") from e
        informal[(m.group(1), m.group(2).lower())] = obj
    out: dict[str, list[dict[str, Any]]] = {"valid": [], "test": []}
    for rel in sorted(lean_files):
        m = re.fullmatch(r"MiniF2F/(Valid|Test)/(.+)\.lean", rel)
        if not m:
            continue
        split = m.group(1).lower()
        ts = parse_lean(lean_files[rel], rel)
        if len(ts) != 1:
            raise DownloadError(f"{formal.slug}: {rel}: expected one sorry'd theorem, found {len(ts)}")
        t = ts[0]
        info = informal.get((split, t.name.lower()), {})
        out[split].append(
            {
                "name": t.name,
                "split": split,
                "header": t.header,
                "formal_statement": t.statement,
                "informal_statement": str(info.get("informal_statement", "")),
                "informal_proof": str(info.get("informal_proof", "")),
                "source": f"{formal.slug}@{formal.commit[:7]}:{rel}",
                "lean_toolchain": toolchain,
                "known_issue": _known_issue("minif2f", split, t.name),
            }
        )
    for split, rows in out.items():
        rows.sort(key=lambda r: r["name"])
        if not rows:
            raise DownloadError(f"{formal.slug}: no MiniF2F/{split.capitalize()}/*.lean files in the archive")
    return out


def download_minif2f(fetch: Fetch, bases: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    bases = bases or _bases()
    url = MINIF2F_FORMAL.tarball_url(bases)
    lean = _tar_members(fetch(url), url, r"MiniF2F/(Valid|Test)/[^/]+\.lean|lean-toolchain")
    toolchain = lean.pop("lean-toolchain", "").strip()
    iurl = MINIF2F_INFORMAL.tarball_url(bases)
    informal = _tar_members(fetch(iurl), iurl, r"informal/(valid|test)/[^/]+\.json")
    return convert_minif2f(lean, informal, toolchain)


# ---------------------------------------------------------------------------------------------------
# ProofNet


def _strip_proof_env(text: str) -> str:
    text = re.sub(r"\\begin\{proof\}", "", text)
    text = re.sub(r"\\end\{proof\}", "", text)
    return text.strip()


def _jsonl(text: str, what: str) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DownloadError(f"{what}:{i}: invalid JSON ({e.msg})") from e
    return rows


def convert_proofnet(
    formal_jsonl: str,
    informal_jsonl: dict[str, str],
    toolchain: str = "",
    formal: Repo = PROOFNET_FORMAL,
    informal: Repo = PROOFNET_INFORMAL,
) -> dict[str, list[dict[str, Any]]]:
    """rahul3613's ``proofnet_lean4.jsonl`` + the original ``benchmark/{valid,test}.jsonl`` -> rows per split.

    Names map as ``Book|exercise_x`` <-> ``Book_exercise_x`` (``-`` in a book name becomes ``_``)."""
    orig: dict[str, tuple[str, dict[str, Any]]] = {}
    for split, text in informal_jsonl.items():
        for r in _jsonl(text, f"{informal.slug}:benchmark/{split}.jsonl"):
            pid = str(r.get("id", ""))
            if "|" in pid:
                orig[pid.replace("-", "_").replace("|", "_")] = (split, r)
    out: dict[str, list[dict[str, Any]]] = {"valid": [], "test": []}
    for r in _jsonl(formal_jsonl, f"{formal.slug}:proofnet_lean4.jsonl"):
        name = str(r.get("name", ""))
        if name not in orig:
            continue  # e.g. Cambridge_Tripos_*: not in the original ProofNet
        split, o = orig[name]
        stmt = re.sub(r"\s*sorry\s*$", "", str(r.get("formal_statement", "")))
        header = str(r.get("header", "")).rstrip("\n") + "\n\n"
        out[split].append(
            {
                "name": name,
                "split": split,
                "header": header,
                "formal_statement": stmt,
                "informal_statement": str(o.get("nl_statement", "")).strip(),
                "informal_proof": _strip_proof_env(str(o.get("nl_proof", ""))),
                "proofnet_id": o["id"],
                "source": f"{formal.slug}@{formal.commit[:7]}:proofnet_lean4.jsonl (formal, {toolchain or 'Lean 4'}); "
                f"{informal.slug}@{informal.commit[:7]}:benchmark/{split}.jsonl (split, nl_statement, nl_proof)",
                "lean_toolchain": toolchain,
                "known_issue": _known_issue("proofnet", split, name),
            }
        )
    for split, rows in out.items():
        if not rows:
            raise DownloadError(f"{formal.slug}: no {split} theorem matched the original ProofNet ids")
    return out


def download_proofnet(fetch: Fetch, bases: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    bases = bases or _bases()
    formal = fetch(PROOFNET_FORMAL.raw_url(bases, "proofnet_lean4.jsonl")).decode("utf-8")
    try:
        toolchain = fetch(PROOFNET_FORMAL.raw_url(bases, "lean-toolchain")).decode("utf-8").strip()
    except DownloadError:
        toolchain = ""
    informal = {
        s: fetch(PROOFNET_INFORMAL.raw_url(bases, f"benchmark/{s}.jsonl")).decode("utf-8") for s in ("valid", "test")
    }
    return convert_proofnet(formal, informal, toolchain)


# ---------------------------------------------------------------------------------------------------


DOWNLOADERS: dict[str, Callable[..., dict[str, list[dict[str, Any]]]]] = {
    "minif2f": download_minif2f,
    "proofnet": download_proofnet,
}


def write_rows(name: str, rows: dict[str, list[dict[str, Any]]], dest: Path) -> list[Path]:
    """``dest/{name}_{split}.jsonl``, each written to a temporary file and renamed (never half-written)."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rs in rows.items():
        path = dest / f"{name}_{split}.jsonl"
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for r in rs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        tmp.replace(path)
        paths.append(path)
    return paths


def download(name: str, dest: Path, fetch: Fetch | None = None) -> list[Path]:
    """Fetch and convert benchmark ``name`` into ``dest``; returns the files written."""
    if name not in DOWNLOADERS:
        raise DownloadError(f"unknown benchmark {name!r}: `prover data download` knows {', '.join(DOWNLOADERS)}")
    rows = DOWNLOADERS[name](fetch or http_fetch)
    try:
        return write_rows(name, rows, Path(dest))
    except OSError as e:
        raise DownloadError(f"cannot write {dest}: {e.strerror or e}") from e
