"""Reports of a batch run, computed from its store alone (so ``prover report RUN_DIR`` re-renders them).

Files written into the run directory:

* ``report.json``: everything below, machine-readable;
* ``theorems.csv`` (one row per theorem) and ``attempts.csv`` (one row per attempt);
* ``proofs.jsonl``: the first proof found for each solved theorem, with its header and the Lean version
  that checked it;
* ``report.html``: summary tables and three plots (solved theorems vs wall time, the pass@k curve,
  pass@1 / pass@K per subject), PNGs embedded.

pass@k uses the unbiased estimator (`prover.batch.passk`). ``n`` of a theorem is the number of its
recorded attempts with index < K (every status counts: an ``error`` attempt is a failed sample), ``c``
the number proved. Theorems flagged ``known_issue`` (false or vacuous statements) are reported apart:
the headline numbers are over all theorems of the run, ``clean`` numbers leave the flagged ones out.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from data.benchmarks import decode_subjects
from prover.attempt import STATEMENT_REJECTED
from prover.batch.passk import mean_pass_at_k, pass_at_k
from prover.batch.store import ResultStore


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _curve(counts: list[tuple[int, int]], K: int) -> dict[str, float | None]:
    return {str(k): mean_pass_at_k(counts, k)[0] for k in range(1, K + 1)}


def build_report(store: ResultStore) -> dict[str, Any]:
    meta = store.meta()
    K = int(meta.get("attempts") or 1)
    theorems = store.theorems()
    attempts = store.attempts()
    sessions = store.sessions()

    # Active wall time: sessions laid end to end, each from its start to its last write.
    offsets: dict[int, tuple[float, float]] = {}
    total_wall = 0.0
    for s in sessions:
        start = float(s["started"] or 0.0)
        end = float(s["last_write"] or start)
        offsets[int(s["id"])] = (total_wall, start)
        total_wall += max(0.0, end - start)

    def wall_of(a: dict[str, Any]) -> float | None:
        sid = a.get("session")
        if sid is None or int(sid) not in offsets or a.get("finished") is None:
            return None
        off, start = offsets[int(sid)]
        return off + max(0.0, float(a["finished"]) - start)

    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in attempts:
        if int(a["attempt"]) < K:
            by_thm[a["theorem"]].append(a)

    rows: list[dict[str, Any]] = []
    solved_at: list[float] = []
    for t in theorems:
        ats = sorted(by_thm.get(t["key"], []), key=lambda a: a["attempt"])
        proved = [a for a in ats if a["status"] == "proved"]
        first = min(proved, key=lambda a: a["finished"] or 0.0) if proved else None
        if first is not None:
            w = wall_of(first)
            if w is not None:
                solved_at.append(w)
        rows.append(
            {
                "key": t["key"],
                "name": t["name"],
                "split": t["split"],
                "subject": t["subject"],
                "subjects": decode_subjects(t["subject"]),
                "known_issue": t["known_issue"],
                "n": len(ats),
                "c": len(proved),
                "solved": bool(proved),
                "statuses": dict(Counter(a["status"] for a in ats)),
                "time": sum(float(a["time"] or 0.0) for a in ats),
                "lean_calls": sum(int(a["lean_calls"] or 0) for a in ats),
                "expansions": sum(int(a["expansions"] or 0) for a in ats),
                "first_proof_attempt": first["attempt"] if first else None,
                "lean_version": first["lean_version"] if first else None,
                "proof": first["proof"] if first else None,
                "header": t["header"],
            }
        )

    def summary(rs: list[dict[str, Any]]) -> dict[str, Any]:
        counts = [(r["n"], r["c"]) for r in rs]
        return {
            "theorems": len(rs),
            "solved": sum(r["solved"] for r in rs),
            "complete": all(r["n"] >= K for r in rs),
            "pass_at_k": _curve(counts, K),
            "theorems_with_k": {str(k): mean_pass_at_k(counts, k)[1] for k in range(1, K + 1)},
        }

    clean = [r for r in rows if not r["known_issue"]]
    flagged = [r for r in rows if r["known_issue"]]
    # A theorem with several subjects (PutnamBench tags, FormalMATH domains) counts in each of them;
    # hierarchical subjects (`Top/…/Leaf`) are also summed by their top level.
    subjects: dict[str, list[dict[str, Any]]] = defaultdict(list)
    tops: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for s in r["subjects"]:
            subjects[s].append(r)
        for top in dict.fromkeys(s.split("/")[0] for s in r["subjects"]):
            tops[top].append(r)
    hierarchical = any("/" in s for s in subjects)

    status_counts = Counter(a["status"] for a in attempts if int(a["attempt"]) < K)
    per_thm_time = [r["time"] for r in rows if r["n"]]
    per_thm_calls = [float(r["lean_calls"]) for r in rows if r["n"]]
    per_thm_exp = [float(r["expansions"]) for r in rows if r["n"]]
    versions = Counter(a["lean_version"] or "unknown" for a in attempts if a["status"] == "proved")
    return {
        "run_dir": str(store.path.parent),
        "benchmark": meta.get("benchmark"),
        "split": meta.get("split"),
        "attempts_per_theorem": K,
        "config": meta.get("config"),
        "all": summary(rows),
        "clean": summary(clean),
        "known_issues": [
            {"name": r["name"], "reason": r["known_issue"], "n": r["n"], "c": r["c"], "solved": r["solved"]}
            for r in flagged
        ],
        "skipped_known_issues": meta.get("skipped_known", []),
        "subjects": {s: summary(rs) for s, rs in sorted(subjects.items())},
        "subjects_top": {s: summary(rs) for s, rs in sorted(tops.items())} if hierarchical else None,
        "multi_subject": any(len(r["subjects"]) > 1 for r in rows),
        "benchmark_info": meta.get("benchmark_info"),
        "answers": meta.get("answers"),
        "answer_problems": meta.get("answer_problems") or [],
        "attempts": {
            "total": sum(status_counts.values()),
            "expected": K * len(rows),
            "by_status": dict(status_counts),
        },
        "time": {
            "wall_seconds": total_wall,
            "attempt_seconds": sum(per_thm_time),
            "per_theorem_mean": _mean(per_thm_time),
            "per_theorem_median": _median(per_thm_time),
        },
        "lean_calls": {
            "total": sum(per_thm_calls),
            "per_theorem_mean": _mean(per_thm_calls),
            "per_theorem_median": _median(per_thm_calls),
        },
        "expansions": {
            "total": sum(per_thm_exp),
            "per_theorem_mean": _mean(per_thm_exp),
            "per_theorem_median": _median(per_thm_exp),
        },
        "solved_at_wall_seconds": sorted(solved_at),
        "lean_versions_of_proofs": dict(versions),
        "sessions": [
            {
                k: s[k]
                for k in (
                    "id",
                    "started",
                    "last_write",
                    "host",
                    "backend",
                    "workers",
                    "lean_toolchain",
                    "mathlib_rev",
                    "lean_version",
                    "lean_version_source",
                )
            }
            for s in sessions
        ],
        "infrastructure_errors": infrastructure_errors(attempts, meta),
        "errors": [
            {"theorem": a["theorem"], "attempt": a["attempt"], "status": a["status"], "error": a["error"]}
            for a in attempts
            if a["status"] in ("error", "timeout")
        ][:500],
        "theorems": [{k: v for k, v in r.items() if k not in ("proof", "header")} for r in rows],
        "_rows": rows,
    }


def infrastructure_errors(attempts: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """Attempts that infrastructure cut short (status ``error``, but not a statement Lean rejected): how many, by
    cause (the error's first word: ``LeanCrashed``, ``LeanTimeout``, ``worker`` ...), how many a resume redoes
    and how many were given up after ``batch.max_tries``. They are never counted as failed."""
    batch = (meta.get("config") or {}).get("batch") or {}
    max_tries = int(batch.get("max_tries") or 1)
    redo = bool(batch.get("retry_errors_on_resume", True))
    infra = [
        a for a in attempts if a["status"] == "error" and not (a["error"] or "").startswith(STATEMENT_REJECTED)
    ]
    causes = Counter((a["error"] or "unknown").split(":")[0].split()[0] for a in infra)
    left = [a for a in infra if redo and int(a["tries"] or 1) < max_tries]
    return {
        "attempts": len(infra),
        "by_cause": dict(causes.most_common()),
        "redone_by_resume": len(left),
        "given_up": len(infra) - len(left),
        "max_tries": max_tries,
    }


# ---------------------------------------------------------------------------------------------------
# Rendering


ANSWER_MODE_TEXT = {
    "inline": "inline: upstream's answers written into the statements (as upstream's rewrite_solutions.py; "
    "the leaderboard's with-answer track)",
    "free": "free: the prover had to write the answers (the leaderboard's no-answer track)",
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def format_summary(rep: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    K = rep["attempts_per_theorem"]
    a, c = rep["all"], rep["clean"]
    name = " ".join(str(x) for x in (rep.get("benchmark"), rep.get("split")) if x) or "batch"
    ks = sorted({1, K} | ({8} if K >= 8 else set()) | ({32} if K >= 32 else set()))
    curve = "  ".join(f"pass@{k} {_pct(a['pass_at_k'][str(k)])}" for k in ks)
    total = (rep.get("benchmark_info") or {}).get("total")
    out_of = f" ({a['solved']}/{total} of the benchmark)" if total else ""
    lines = [
        f"{name}: {a['theorems']} theorems, {K} attempt(s) each ({rep['attempts']['total']}/"
        f"{rep['attempts']['expected']} done), solved {a['solved']}{out_of}",
        f"  {curve}",
    ]
    if rep.get("answers"):
        lines.append(f"  answer placeholders: {ANSWER_MODE_TEXT[rep['answers']]}")
        if rep.get("answer_problems"):
            n = len(rep["answer_problems"])
            lines.append(f"  answers that could not be inlined (placeholder left `sorry`): {n}")
    if rep["known_issues"]:
        ccurve = "  ".join(f"pass@{k} {_pct(c['pass_at_k'][str(k)])}" for k in ks)
        solved = [k["name"] for k in rep["known_issues"] if k["solved"]]
        lines.append(f"  without the {len(rep['known_issues'])} known-issue statements ({c['theorems']}): {ccurve}")
        lines.append(f"  known-issue statements solved: {len(solved)}" + (f" ({', '.join(solved)})" if solved else ""))
    if rep["skipped_known_issues"]:
        lines.append(f"  skipped (known issues): {len(rep['skipped_known_issues'])}")
    t = rep["time"]
    st = rep["attempts"]["by_status"]
    lines.append(
        f"  wall {t['wall_seconds'] / 60:.1f} min; per theorem: time {t['per_theorem_mean'] or 0:.1f}s, "
        f"Lean calls {rep['lean_calls']['per_theorem_mean'] or 0:.1f}, expansions "
        f"{rep['expansions']['per_theorem_mean'] or 0:.1f} (means); attempts: "
        + ", ".join(f"{k} {v}" for k, v in sorted(st.items()))
    )
    ie = rep.get("infrastructure_errors") or {}
    if ie.get("attempts"):
        causes = ", ".join(f"{k} {v}" for k, v in ie["by_cause"].items())
        lines.append(
            f"  cut short by infrastructure (not counted as failed): {ie['attempts']} attempt(s) ({causes}); "
            + (
                f"{ie['redone_by_resume']} will be redone by rerunning the command"
                if ie["redone_by_resume"]
                else f"given up after {ie['max_tries']} tries"
            )
        )
    return "\n".join(lines)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plots(rep: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: ``solved_vs_time``, ``pass_at_k``, ``subjects``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    K = rep["attempts_per_theorem"]

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ts = rep["solved_at_wall_seconds"]
    span = max([rep["time"]["wall_seconds"], *ts]) if ts else rep["time"]["wall_seconds"]
    unit, div = ("hours", 3600.0) if span > 3 * 3600 else ("minutes", 60.0) if span > 120 else ("seconds", 1.0)
    xs = [0.0] + [t / div for t in ts] + [rep["time"]["wall_seconds"] / div]
    ys = [0] + list(range(1, len(ts) + 1)) + [len(ts)]
    ax.step(xs, ys, where="post")
    ax.set_xlabel(f"wall time ({unit})")
    ax.set_ylabel("theorems solved")
    ax.set_title(f"Solved vs wall time ({rep['all']['theorems']} theorems)")
    ax.grid(alpha=0.3)
    out["solved_vs_time"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ks = list(range(1, K + 1))
    for label, key in (("all", "all"), ("without known issues", "clean")):
        vals = [rep[key]["pass_at_k"][str(k)] for k in ks]
        if key == "clean" and not rep["known_issues"]:
            continue
        ax.plot(ks, [100 * v if v is not None else float("nan") for v in vals], marker="o", label=label)
    ax.set_xlabel("k (attempts)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 100)
    if K > 8:
        ax.set_xscale("log", base=2)
    else:
        ax.set_xticks(ks)
    ax.set_title("pass@k (unbiased estimator)")
    ax.grid(alpha=0.3)
    ax.legend()
    out["pass_at_k"] = _png(fig)

    subs = rep["subjects"]
    names = list(subs)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names) + 2), 3.8))
    import numpy as np

    x = np.arange(len(names))
    p1 = [100 * (subs[s]["pass_at_k"]["1"] or 0) for s in names]
    pk = [100 * (subs[s]["pass_at_k"][str(K)] or 0) for s in names]
    w = 0.4 if K > 1 else 0.8
    ax.bar(x - (w / 2 if K > 1 else 0), p1, w, label="pass@1")
    if K > 1:
        ax.bar(x + w / 2, pk, w, label=f"pass@{K}")
    ax.set_xticks(x, [f"{s}\n({subs[s]['theorems']})" for s in names], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("By subject")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    out["subjects"] = _png(fig)
    return out


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def render_html(rep: dict[str, Any], images: dict[str, str]) -> str:
    K = rep["attempts_per_theorem"]
    ks = list(range(1, K + 1))
    head = [["all", rep["all"]["theorems"], rep["all"]["solved"], *[_pct(rep["all"]["pass_at_k"][str(k)]) for k in ks]]]
    if rep["known_issues"]:
        c = rep["clean"]
        head.append(["without known issues", c["theorems"], c["solved"], *[_pct(c["pass_at_k"][str(k)]) for k in ks]])
    subj = [
        [s, v["theorems"], v["solved"], *[_pct(v["pass_at_k"][str(k)]) for k in ks]] for s, v in rep["subjects"].items()
    ]
    cols = ["", "theorems", "solved", *[f"pass@{k}" for k in ks]]
    t = rep["time"]
    stats = [
        ["wall time (s)", f"{t['wall_seconds']:.1f}"],
        ["attempt time, total (s)", f"{t['attempt_seconds']:.1f}"],
        [
            "time per theorem, mean / median (s)",
            f"{t['per_theorem_mean'] or 0:.2f} / {t['per_theorem_median'] or 0:.2f}",
        ],
        [
            "Lean calls per theorem, mean / median",
            f"{rep['lean_calls']['per_theorem_mean'] or 0:.1f} / {rep['lean_calls']['per_theorem_median'] or 0:.1f}",
        ],
        [
            "expansions per theorem, mean / median",
            f"{rep['expansions']['per_theorem_mean'] or 0:.1f} / {rep['expansions']['per_theorem_median'] or 0:.1f}",
        ],
        ["attempts by status", ", ".join(f"{k}: {v}" for k, v in sorted(rep["attempts"]["by_status"].items()))],
        [
            "Lean versions that checked the proofs",
            ", ".join(f"{k} ({v})" for k, v in rep["lean_versions_of_proofs"].items()) or "—",
        ],
    ]
    sess = [
        [s["id"], s["host"], s["backend"], s["workers"], s["lean_toolchain"] or "?", s["mathlib_rev"] or "?"]
        for s in rep["sessions"]
    ]
    known = [[k["name"], k["reason"], f"{k['c']}/{k['n']}"] for k in rep["known_issues"]]
    errors = [[e["theorem"], e["attempt"], e["status"], e["error"] or ""] for e in rep["errors"][:100]]
    img = "".join(f'<img alt="{k}" src="data:image/png;base64,{v}">' for k, v in images.items())
    title = " ".join(str(x) for x in (rep.get("benchmark"), rep.get("split")) if x) or "batch run"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>prover batch: {html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:32%;margin:4px;vertical-align:top}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{rep['all']['theorems']} theorems, {K} attempt(s) each; {rep['attempts']['total']} of "
        f"{rep['attempts']['expected']} attempts recorded. pass@k: unbiased estimator over theorems with at least "
        "k attempts.</p>",
        _table(cols, head),
        img,
        "<h2>By subject</h2>",
        _table(cols, subj),
        "<h2>Cost</h2>",
        _table(["", ""], stats),
    ]
    if known:
        parts += ["<h2>Known-issue statements (reported apart)</h2>", _table(["theorem", "issue", "proved/n"], known)]
    if rep["skipped_known_issues"]:
        parts += [
            "<h2>Skipped (known issues)</h2>",
            _table(["theorem", "issue"], [[k["name"], k["reason"]] for k in rep["skipped_known_issues"]]),
        ]
    parts += ["<h2>Sessions</h2>", _table(["id", "host", "backend", "workers", "toolchain", "Mathlib"], sess)]
    if errors:
        parts += ["<h2>Errors and timeouts</h2>", _table(["theorem", "attempt", "status", "message"], errors)]
    parts.append("</body></html>")
    return "\n".join(parts)


@contextlib.contextmanager
def atomic_write(path: Path, newline: str | None = None) -> Iterator[IO[str]]:
    """Write ``path`` whole or not at all: a full disk leaves the previous file (or none), never a truncated
    one (an empty report.json broke the tools reading it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_report(run_dir: Path | str, *, plots_too: bool = True) -> dict[str, Any]:
    """Compute the report from ``run_dir``'s store and write every file; returns the report dict."""
    run_dir = Path(run_dir)
    with ResultStore.in_run_dir(run_dir, readonly=True) as store:
        rep = build_report(store)
        attempts = store.attempts()
    rows = rep.pop("_rows")
    with atomic_write(run_dir / "report.json") as f:
        f.write(json.dumps(rep, indent=1, default=str))
    with atomic_write(run_dir / "theorems.csv", newline="") as f:
        w = csv.writer(f)
        cols = [
            "key",
            "name",
            "split",
            "subject",
            "known_issue",
            "n",
            "c",
            "solved",
            "time",
            "lean_calls",
            "expansions",
            "first_proof_attempt",
            "lean_version",
        ]
        w.writerow(cols + [f"pass@{k}" for k in range(1, rep["attempts_per_theorem"] + 1)])
        for r in rows:
            pk = [
                f"{pass_at_k(r['n'], r['c'], k):.4f}" if r["n"] >= k else ""
                for k in range(1, rep["attempts_per_theorem"] + 1)
            ]
            w.writerow([r[c] if r[c] is not None else "" for c in cols] + pk)
    with atomic_write(run_dir / "attempts.csv", newline="") as f:
        w = csv.writer(f)
        cols = [
            "theorem",
            "attempt",
            "seed",
            "status",
            "time",
            "expansions",
            "lean_calls",
            "lean_version",
            "worker",
            "session",
            "tries",
            "error",
        ]
        w.writerow(cols)
        for a in attempts:
            w.writerow([a[c] if a[c] is not None else "" for c in cols])
    with atomic_write(run_dir / "proofs.jsonl") as f:
        for r in rows:
            if r["proof"]:
                f.write(
                    json.dumps(
                        {
                            "name": r["name"],
                            "key": r["key"],
                            "attempt": r["first_proof_attempt"],
                            "lean_version": r["lean_version"],
                            "header": r["header"],
                            "proof": r["proof"],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    images = plots(rep) if plots_too else {}
    with atomic_write(run_dir / "report.html") as f:
        f.write(render_html(rep, images))
    return rep
