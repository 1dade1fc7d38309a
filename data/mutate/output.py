"""The outputs of a mutation run, written from its store (so they cover every session so far).

``OUT/mutants.jsonl`` — one verified theorem per line: ``name`` (full name), ``statement``, ``proof``, ``text``
(statement ``:=`` proof), ``header`` (the source file's imports), ``file`` / ``line`` / ``offset`` (the place:
the mutant holds right before the source theorem in that file, where the gate checked it), ``source`` (the
source theorem), ``kind`` (``rw`` | ``apply``), ``site`` (``⊢`` or the hypothesis), ``premise``, ``tactic``,
``lean_version``. Mutants with the same statement (up to their names) are kept once.

``OUT/steps.jsonl`` — their (state, tactic) pairs (``allTactics`` of the verified proof) as a step file of the
training export (`data.export.write_steps`; ``prover data export OUT/steps.jsonl --kind sft`` turns it into a
dataset), each pair once.

``OUT/summary.json`` — counts per kind (tried, invocable, found, verified, rejected, error), the rates, Lean
calls per verified mutant, this session's throughput; `format_summary` prints it.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.export import StepRecord, write_steps
from data.mutate.store import MutationStore
from prover.lean.goals import flat
from prover.lean.syntax import scan

if TYPE_CHECKING:
    from data.mutate.runner import RunSummary


def _written_name_re(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.'])" + re.escape(name) + r"(?![\w'!?])")


def full_name(source_full: str, source_written: str, written: str) -> str:
    """The mutant's full name: the source theorem's namespace + the mutant's name as written."""
    if source_full.endswith(source_written):
        return source_full[: len(source_full) - len(source_written)] + written
    return written


def write_outputs(store: MutationStore, out_dir: Path, root: Path, summary: RunSummary | None = None) -> dict[str, Any]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cands = {c["key"]: c for c in store.candidates()}
    headers: dict[str, tuple[str, str]] = {}  # file → (imports header, text)
    seen_statements: set[str] = set()
    dup = 0
    steps: list[StepRecord] = []
    seen_steps: set[tuple[str, str]] = set()
    dup_steps = 0
    tmp = out_dir / "mutants.jsonl.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for m in store.mutants("verified"):
            body = flat(_written_name_re(m["name"]).sub("_", m["statement"], count=1))
            if body in seen_statements:
                dup += 1
                continue
            seen_statements.add(body)
            c = cands.get(m["candidate"], {})
            if m["file"] not in headers:
                try:
                    text = (root / m["file"]).read_text(encoding="utf-8")
                    headers[m["file"]] = (text[: scan(text).header.end], text)
                except OSError:
                    headers[m["file"]] = ("", "")
            header, text = headers[m["file"]]
            name = full_name(m["source"], m["name"].rsplit("_mut_", 1)[0], m["name"])
            rec = {
                "name": name,
                "statement": m["statement"],
                "proof": m["proof"],
                "text": f"{m['statement']} := {m['proof']}",
                "header": header,
                "file": m["file"],
                "line": c.get("line"),
                "source": m["source"],
                "kind": m["kind"],
                "site": m["site"],
                "premise": m["premise"],
                "tactic": m["tactic"],
                "lean_version": m["lean_version"],
                "id": m["id"],
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            for s in json.loads(m["steps"] or "[]"):
                r = StepRecord.from_json(s)
                key = (r.state, r.tactic)
                if key in seen_steps:
                    dup_steps += 1
                    continue
                seen_steps.add(key)
                steps.append(r)
    os.replace(tmp, out_dir / "mutants.jsonl")
    write_steps(out_dir / "steps.jsonl", steps)
    report = summarize(store, summary)
    report["output"] = {"mutants": n, "duplicate_statements": dup, "steps": len(steps), "duplicate_steps": dup_steps}
    (out_dir / "summary.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def summarize(store: MutationStore, summary: RunSummary | None = None) -> dict[str, Any]:
    cands = store.candidates()
    status = Counter(c["status"] for c in cands)
    skipped = Counter(_reason_class(c["reason"] or "") for c in cands if c["status"] == "skipped")
    tried: Counter = Counter()
    invocable: Counter = Counter()
    dropped: Counter = Counter()
    for c in cands:
        if c["discovery"]:
            d = json.loads(c["discovery"])
            tried.update(d.get("tried", {}))
            invocable.update(d.get("invocable", {}))
            dropped.update(d.get("dropped", {}))
    per_kind: dict[str, Counter] = {}
    for m in store.mutants():
        per_kind.setdefault(m["kind"], Counter())[m["status"]] += 1
    opened = sum(1 for c in cands if c["discovery"])
    calls = sum(int(c["lean_calls"] or 0) for c in cands)
    verified = sum(k.get("verified", 0) for k in per_kind.values())
    kinds: dict[str, Any] = {}
    for kind in sorted(set(tried) | set(per_kind)):
        pk = per_kind.get(kind, Counter())
        found = sum(pk.values())
        final = pk.get("verified", 0) + pk.get("rejected", 0)
        kinds[kind] = {
            "tried": tried.get(kind, 0),
            "invocable": invocable.get(kind, 0),
            "found": found,
            "verified": pk.get("verified", 0),
            "rejected": pk.get("rejected", 0),
            "pending": pk.get("pending", 0),
            "error": pk.get("error", 0),
            "invocable_rate": _rate(invocable.get(kind, 0), tried.get(kind, 0)),
            "verified_rate": _rate(pk.get("verified", 0), final),
            "verified_per_theorem": _rate(pk.get("verified", 0), opened),
        }
    out: dict[str, Any] = {
        "theorems": dict(status),
        "skipped_reasons": dict(skipped.most_common(12)),
        "opened": opened,
        "kinds": kinds,
        "dropped": dict(dropped.most_common()),
        "lean_calls": calls,
        "lean_calls_per_verified": _rate(calls, verified),
    }
    if summary is not None:
        secs = max(summary.seconds, 1e-9)
        out["session"] = {
            "seconds": round(summary.seconds, 3),
            "theorems": summary.processed,
            "requests": summary.requests,
            "theorems_per_second": summary.processed / secs,
            "requests_per_second": summary.requests / secs,
            "fatal": summary.fatal,
            "interrupted": summary.interrupted,
        }
    return out


def _rate(a: int, b: int) -> float | None:
    return a / b if b else None


def _reason_class(reason: str) -> str:
    """Group skip reasons: drop names and positions so that counts say something."""
    r = re.sub(r"^[^:]*?: ", "", reason, count=1) if reason.startswith(("Mathlib", "/")) else reason
    r = re.sub(r"`[^`]*`|'[^']*'|\d+(:\d+)?", "…", r)
    return r[:120]


def format_summary(report: dict[str, Any], out_dir: Path) -> str:
    lines = []
    th = report["theorems"]
    lines.append("theorems: " + ", ".join(f"{k} {v}" for k, v in sorted(th.items())))
    for kind, k in report["kinds"].items():
        inv = f"{k['invocable_rate']:.1%}" if k["invocable_rate"] is not None else "-"
        ver = f"{k['verified_rate']:.1%}" if k["verified_rate"] is not None else "-"
        per = f"{k['verified_per_theorem']:.2f}" if k["verified_per_theorem"] is not None else "-"
        lines.append(
            f"{kind:>5}: tried {k['tried']}, invocable {k['invocable']} ({inv}), mutants {k['found']}, verified "
            f"{k['verified']} ({ver} of checked), rejected {k['rejected']}, errors {k['error']}; "
            f"{per} verified per opened theorem"
        )
    if report.get("lean_calls_per_verified") is not None:
        per = report["lean_calls_per_verified"]
        lines.append(f"Lean calls: {report['lean_calls']} ({per:.1f} per verified mutant)")
    s = report.get("session")
    if s:
        lines.append(
            f"this session: {s['theorems']} theorems in {s['seconds']:.1f}s ({s['theorems_per_second']:.2f}/s), "
            f"{s['requests']} Lean requests ({s['requests_per_second']:.1f}/s)"
        )
    o = report.get("output", {})
    lines.append(
        f"wrote {out_dir / 'mutants.jsonl'} ({o.get('mutants', 0)} verified theorems), {out_dir / 'steps.jsonl'} "
        f"({o.get('steps', 0)} (state, tactic) pairs), {out_dir / 'summary.json'}"
    )
    return "\n".join(lines)
