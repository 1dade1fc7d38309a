"""`prover data download NAME`: fetch a benchmark's pinned upstream sources and convert them to our JSONL.

The project never ships benchmark data; this rebuilds, from the pinned upstream commits, the same JSONL
files as ``../shared/benchmarks/`` (fields ``name, split, header, formal_statement, informal_statement,
informal_proof, source, lean_toolchain, known_issue``):

* miniF2F: ``yangky11/miniF2F-lean4`` (``MiniF2F/{Valid,Test}/*.lean``, one theorem per file ending
  ``:= by sorry``) plus the informal statements/proofs of ``facebookresearch/miniF2F``
  (``informal/{valid,test}/*.json``, names matched case-insensitively).
* ProofNet: ``rahul3613/ProofNet-lean4`` (``proofnet_lean4.jsonl``, Lean 4 statements) with split,
  ``nl_statement`` and ``nl_proof`` from ``zhangir-azerbayev/ProofNet`` (``benchmark/{valid,test}.jsonl``);
  rows not in the original ProofNet (Cambridge Tripos) are left out.

* PutnamBench: ``trishullab/PutnamBench`` (``lean4/src/*.lean``, one problem per file, with
  ``informal/putnam.json`` for the informal statement, solution and tags) into ``putnambench_lean4.jsonl``
  (``name, lean4_file, informal_statement, informal_solution, tags, source``); every file must read as a
  problem (`data.putnambench.parse_problem`).
* miniF2F as DSP+ uses it: ``microsoft/DSP-Plus`` ``datasets/minif2f.jsonl`` (DeepSeek-Prover-V1.5's file with
  the statements DSP+ found misformalised corrected), into ``minif2f_dspplus_{valid,test}.jsonl``.
* ProofNet-Verified: ``marcusm117/ProofNet-Verified`` (``data/proofnet-verified.jsonl``: 367 ProofNet problems
  audited, corrected and proved by its authors, Lean v4.28.0), split from the original ProofNet ids; each row
  whose ProofNet (rahul3613@6deae98) formalization the audit judged unfaithful is flagged ``corrected`` with the
  verdict (``error_taxonomy/proofnet/results.jsonl``), so reports can show the corrected statements apart.
* FormalMATH-Lite / -All: the Hugging Face datasets ``SphereLab/FormalMATH-Lite`` / ``-All`` through
  `datasets` at a pinned revision, or offline from a local copy of the upstream file (``--from-file``),
  into ``formalmath_lite.jsonl`` / ``formalmath_all.jsonl`` (upstream's fields plus ``provenance``).

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
PUTNAMBENCH = Repo("trishullab", "PutnamBench", "3c9b9268ebd132d482938b8e9d242dd71fc1ebc0")
DSP_PLUS = Repo("microsoft", "DSP-Plus", "eb983208b78b5ac4a7774d5500cc2086a2171027")
PROOFNET_VERIFIED = Repo("marcusm117", "ProofNet-Verified", "1ecc1243f96b9ab68bfeaa213568bfe8dec33eb3")
# Hugging Face dataset -> pinned revision. Lite: the commit that uploaded FormalMATH_lite.json (the Hub resolves
# short commit ids). All: no commit could be looked up from here, so `main`, and the commit it resolved to is
# recorded in every row's provenance; pass --revision to pin it.
FORMALMATH = {
    "formalmath_lite": ("SphereLab/FormalMATH-Lite", "75e91a8"),
    "formalmath_all": ("SphereLab/FormalMATH-All", "main"),
}

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
# PutnamBench


def convert_putnambench(
    lean_files: dict[str, str], informal_json: str, toolchain: str = "", repo: Repo = PUTNAMBENCH
) -> dict[str, list[dict[str, Any]]]:
    """``lean4/src/NAME.lean`` texts + ``informal/putnam.json`` -> the rows of ``putnambench_lean4.jsonl``."""
    from data.putnambench import PutnamError, parse_problem

    try:
        informal = {str(x.get("problem_name")): x for x in json.loads(informal_json) if isinstance(x, dict)}
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        raise DownloadError(f"{repo.slug}: informal/putnam.json is not a JSON list of problems ({e})") from e
    rows = []
    for rel in sorted(lean_files):
        m = re.fullmatch(r"lean4/src/(.+)\.lean", rel)
        if not m:
            continue
        name = m.group(1)
        try:
            parse_problem(lean_files[rel], name, f"{repo.slug}:{rel}")
        except PutnamError as e:
            raise DownloadError(str(e)) from e
        info = informal.get(name, {})
        rows.append(
            {
                "name": name,
                "lean4_file": lean_files[rel],
                "informal_statement": str(info.get("informal_statement", "")),
                "informal_solution": info.get("informal_solution"),
                "tags": list(info.get("tags") or []),
                "source": {
                    "repo": repo.slug,
                    "commit": repo.commit,
                    "path": rel,
                    "license": "Apache-2.0 (lean4/LICENSE)",
                    "lean_toolchain": toolchain,
                },
            }
        )
    if not rows:
        raise DownloadError(f"{repo.slug}: no lean4/src/*.lean files in the archive")
    return {"test": rows}


def download_putnambench(fetch: Fetch, bases: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    bases = bases or _bases()
    url = PUTNAMBENCH.tarball_url(bases)
    files = _tar_members(fetch(url), url, r"lean4/src/[^/]+\.lean|lean4/lean-toolchain|informal/putnam\.json")
    toolchain = files.pop("lean4/lean-toolchain", "").strip()
    informal = files.pop("informal/putnam.json", None)
    if informal is None:
        raise DownloadError(f"{url}: no informal/putnam.json in the archive")
    return convert_putnambench(files, informal, toolchain)


# ---------------------------------------------------------------------------------------------------
# miniF2F as corrected by DSP+


def convert_dspplus(text: str, repo: Repo = DSP_PLUS) -> dict[str, list[dict[str, Any]]]:
    """DSP+'s ``datasets/minif2f.jsonl`` (DS-V1.5's fields) -> rows per split."""
    out: dict[str, list[dict[str, Any]]] = {"valid": [], "test": []}
    for r in _jsonl(text, f"{repo.slug}:datasets/minif2f.jsonl"):
        split = str(r.get("split", ""))
        if split not in out or not r.get("name") or not r.get("formal_statement"):
            raise DownloadError(f"{repo.slug}: datasets/minif2f.jsonl: a row without name, split or statement")
        out[split].append(
            {
                "name": r["name"],
                "split": split,
                "header": str(r.get("header", "")).rstrip("\n") + "\n\n",
                "formal_statement": str(r["formal_statement"]).rstrip(),
                "informal_statement": str(r.get("informal_statement") or r.get("informal_prefix") or "").strip(),
                "informal_proof": str(r.get("informal_proof") or "").strip(),
                "source": f"{repo.slug}@{repo.commit[:7]}:datasets/minif2f.jsonl",
                "lean_toolchain": None,  # not stated; Mathlib is the fork caochenrui/mathlib4@8b97781 (a submodule)
                "known_issue": None,
            }
        )
    for split, rows in out.items():
        if not rows:
            raise DownloadError(f"{repo.slug}: no {split} row in datasets/minif2f.jsonl")
    return out


def download_dspplus(fetch: Fetch, bases: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    bases = bases or _bases()
    return convert_dspplus(fetch(DSP_PLUS.raw_url(bases, "datasets/minif2f.jsonl")).decode("utf-8"))


# ---------------------------------------------------------------------------------------------------
# ProofNet-Verified (a corrected ProofNet)


def _verdict(t: dict[str, Any]) -> str | None:
    """One line from an error-taxonomy row of the original formalization, None when it was faithful."""
    faith = str(t.get("q2_faithfulness") or "")
    if faith in ("", "faithful"):
        return None
    kind = str(t.get("q4_error_type") or "").replace("_", " ")
    prov = str(t.get("q3_provability") or "")
    holds = {"false": "false as stated", "true": "provable but unfaithful"}.get(prov, f"provability {prov or '?'}")
    what = {
        "nl_ambiguous": "the informal statement is ambiguous",
        "nl_wrong": "the informal statement is wrong",
        "incomparable": "not equivalent to the informal statement",
    }.get(faith, f"{faith} than the informal statement")
    return (
        f"ProofNet-Verified audit of rahul3613@6deae98: {what}"
        + (f" ({kind})" if kind and kind != faith.replace("_", " ") else "")
        + f"; {holds}; corrected here"
    )


def convert_proofnet_verified(
    verified_jsonl: str,
    taxonomy_jsonl: str,
    informal_jsonl: dict[str, str],
    toolchain: str = "",
    repo: Repo = PROOFNET_VERIFIED,
) -> dict[str, list[dict[str, Any]]]:
    """ProofNet-Verified's rows + its audit of the original + the original's splits -> rows per split."""
    split_of: dict[str, tuple[str, str]] = {}
    for split, text in informal_jsonl.items():
        for r in _jsonl(text, f"{PROOFNET_INFORMAL.slug}:benchmark/{split}.jsonl"):
            pid = str(r.get("id", ""))
            if "|" in pid:
                split_of[pid.replace("-", "_").replace("|", "_")] = (split, pid)
    audit = {
        str(t.get("stem", "")): t for t in _jsonl(taxonomy_jsonl, f"{repo.slug}:error_taxonomy/proofnet/results.jsonl")
    }
    out: dict[str, list[dict[str, Any]]] = {"valid": [], "test": []}
    for r in _jsonl(verified_jsonl, f"{repo.slug}:data/proofnet-verified.jsonl"):
        name = str(r.get("name", ""))
        if name not in split_of:
            raise DownloadError(f"{repo.slug}: {name!r} is not a ProofNet problem (no id in the original's splits)")
        split, pid = split_of[name]
        stmt = str(r.get("formal_stmt", ""))
        if not re.search(r":=\s*(by\s+)?sorry\s*$", stmt):
            raise DownloadError(f"{repo.slug}: {name}: formal_stmt does not end with `sorry`")
        stmt = re.sub(r"\s*sorry\s*$", "", stmt)
        header = str(r.get("header", "")).rstrip("\n") + "\n\n"
        if str(r.get("helper") or "").strip():
            header += str(r["helper"]).strip("\n") + "\n\n"
        out[split].append(
            {
                "name": name,
                "split": split,
                "header": header,
                "formal_statement": stmt,
                "informal_statement": str(r.get("informal_stmt", "")).strip(),
                "informal_proof": str(r.get("informal_proof", "")).strip(),
                "proofnet_id": pid,
                "source": f"{repo.slug}@{repo.commit[:7]}:data/proofnet-verified.jsonl (index {r.get('index')})",
                "lean_toolchain": toolchain,
                "known_issue": None,
                "corrected": _verdict(audit.get(f"proofnet-{r.get('index')}", {})),
            }
        )
    for split, rows in out.items():
        if not rows:
            raise DownloadError(f"{repo.slug}: no {split} problem")
    return out


def download_proofnet_verified(fetch: Fetch, bases: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    bases = bases or _bases()
    url = PROOFNET_VERIFIED.tarball_url(bases)
    files = _tar_members(
        fetch(url), url, r"data/proofnet-verified\.jsonl|error_taxonomy/proofnet/results\.jsonl|lean-toolchain"
    )
    for need in ("data/proofnet-verified.jsonl", "error_taxonomy/proofnet/results.jsonl"):
        if need not in files:
            raise DownloadError(f"{url}: no {need} in the archive")
    informal = {
        s: fetch(PROOFNET_INFORMAL.raw_url(bases, f"benchmark/{s}.jsonl")).decode("utf-8") for s in ("valid", "test")
    }
    return convert_proofnet_verified(
        files["data/proofnet-verified.jsonl"],
        files["error_taxonomy/proofnet/results.jsonl"],
        informal,
        files.get("lean-toolchain", "").strip(),
    )


# ---------------------------------------------------------------------------------------------------
# FormalMATH (Hugging Face, through `datasets`)

FORMALMATH_FIELDS = (
    "source",
    "refined_statement",
    "theorem_names",
    "autoformalization",
    "compiler_feedback_bool",
    "compiler_feedback",
    "domain",
    "solution",
)


def convert_formalmath(records: Any, provenance: dict[str, Any], where: str) -> dict[str, list[dict[str, Any]]]:
    """Dataset rows (upstream's fields) -> our rows: the fields kept, ``provenance`` added; every row must
    read as a theorem (`data.formalmath.theorem_from_row`)."""
    from data.formalmath import FormalMathError, theorem_from_row

    rows = []
    for i, rec in enumerate(records, 1):
        if not isinstance(rec, dict) or not rec.get("autoformalization"):
            raise DownloadError(f"{where}: row {i} has no 'autoformalization' (is this a FormalMATH file?)")
        row = {k: rec.get(k) for k in FORMALMATH_FIELDS}
        row["provenance"] = dict(provenance)
        try:
            theorem_from_row(row, f"{where}: row {i}")
        except FormalMathError as e:
            raise DownloadError(str(e)) from e
        rows.append(row)
    if not rows:
        raise DownloadError(f"{where}: no rows")
    return {"test": rows}


def download_formalmath(
    name: str, *, revision: str | None = None, from_file: Path | str | None = None, cache_dir: Path | str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """FormalMATH ``name`` (``formalmath_lite`` / ``formalmath_all``) from the Hub at ``revision`` (default
    pinned in `FORMALMATH`), or from ``from_file`` (a local ``.json``/``.jsonl``/``.parquet`` in the upstream
    layout), read with `datasets` either way."""
    import datasets

    repo_id, pinned = FORMALMATH[name]
    rev = revision or pinned
    try:
        if from_file is not None:
            path = Path(from_file)
            if not path.is_file():
                raise DownloadError(f"{path}: no such file (the local copy of {repo_id})")
            kind = "parquet" if path.suffix == ".parquet" else "json"
            ds = datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=cache_dir)
            prov: dict[str, Any] = {"upstream": repo_id, "file": path.name, "revision": revision or "local file"}
            where = str(path)
        else:
            ds = datasets.load_dataset(repo_id, split="train", revision=rev, cache_dir=cache_dir)
            prov = {"upstream": repo_id, "revision": rev, "commit": _hub_commit(repo_id, rev)}
            where = f"{repo_id}@{rev}"
    except DownloadError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets/hub raise many kinds; the user gets one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = (
            " (no network? download the dataset file on a machine with access and pass it with --from-file)"
            if from_file is None
            else ""
        )
        raise DownloadError(f"cannot load {from_file or repo_id + '@' + rev}: {first}{hint}") from e
    prov["license"] = "MIT (Hugging Face dataset card)"
    return convert_formalmath(ds, prov, where)


def _hub_commit(repo_id: str, revision: str) -> str | None:
    """The commit ``revision`` resolves to on the Hub (None when it cannot be asked)."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo_id, revision=revision).sha
    except Exception:  # noqa: BLE001 - informational only
        return None


# ---------------------------------------------------------------------------------------------------


DOWNLOADERS: dict[str, Callable[..., dict[str, list[dict[str, Any]]]]] = {
    "minif2f": download_minif2f,
    "proofnet": download_proofnet,
    "putnambench": download_putnambench,
    "proofnet_verified": download_proofnet_verified,
    "minif2f_dspplus": download_dspplus,
}
HF_DOWNLOADERS = tuple(FORMALMATH)  # through `datasets`: take --revision / --from-file, not a fetch function
NAMES = (*DOWNLOADERS, *HF_DOWNLOADERS)


def write_rows(name: str, rows: dict[str, list[dict[str, Any]]], dest: Path) -> list[Path]:
    """Each split's file (`data.benchmarks.benchmark_file`: the registered name, else ``{name}_{split}.jsonl``)
    in ``dest``, written to a temporary file and renamed (never half-written)."""
    from data.benchmarks import benchmark_file

    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rs in rows.items():
        path = benchmark_file(name, split, dest)
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for r in rs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        tmp.replace(path)
        paths.append(path)
    return paths


def download(
    name: str,
    dest: Path,
    fetch: Fetch | None = None,
    *,
    revision: str | None = None,
    from_file: Path | str | None = None,
    cache_dir: Path | str | None = None,
) -> list[Path]:
    """Fetch and convert benchmark ``name`` into ``dest``; returns the files written. ``revision`` and
    ``from_file`` are for the Hugging Face datasets (`HF_DOWNLOADERS`)."""
    if name not in NAMES:
        raise DownloadError(f"unknown benchmark {name!r}: `prover data download` knows {', '.join(NAMES)}")
    if name in HF_DOWNLOADERS:
        rows = download_formalmath(name, revision=revision, from_file=from_file, cache_dir=cache_dir)
    else:
        if revision or from_file:
            raise DownloadError(f"--revision / --from-file are for {', '.join(HF_DOWNLOADERS)}; {name} is pinned")
        rows = DOWNLOADERS[name](fetch or http_fetch)
    try:
        return write_rows(name, rows, Path(dest))
    except OSError as e:
        raise DownloadError(f"cannot write {dest}: {e.strerror or e}") from e
