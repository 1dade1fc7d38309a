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

import contextlib
import csv
import json
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from data.benchmarks import decode_subjects
from prover.attempt import STATEMENT_REJECTED
from prover.batch import html
from prover.batch.passk import mean_pass_at_k, pass_at_k
from prover.batch.store import ResultStore
from repair.stats import stage_summary


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _curve(counts: list[tuple[int, int]], K: int) -> dict[str, float | None]:
    return {str(k): mean_pass_at_k(counts, k)[0] for k in range(1, K + 1)}


def proof_length(proof: str | None, statement: str | None) -> int | None:
    """Tactic lines of a proof text after its statement (the statement's ``:= by`` when the text repeats it)."""
    if not proof:
        return None
    body = proof
    stmt = (statement or "").rstrip()
    if stmt and proof.startswith(stmt):
        body = proof[len(stmt) :].lstrip()
        body = body[2:] if body.startswith("by") and body[2:3].isspace() else body  # `:=` + ` by` of with_proof
    elif ":= by" in proof:
        body = proof.split(":= by", 1)[1]
    return sum(1 for line in body.splitlines() if line.strip() and not line.strip().startswith("--"))


def run_info(meta: dict[str, Any], sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report's header says about the run: when, which model, which Lean."""
    cfg = meta.get("config") or {}
    gen = cfg.get("generator") or {}
    search = cfg.get("search") or {}
    backend = str(gen.get("backend") or "?")
    if backend == "automation":
        model = "automation: " + ", ".join(str(t) for t in gen.get("automation") or [])
    else:
        model = f"{backend}: {gen.get('model') or '?'}"
    starts = [float(s["started"]) for s in sessions if s.get("started")]
    ends = [float(s["last_write"]) for s in sessions if s.get("last_write")]
    toolchains = sorted({str(s.get("lean_toolchain")) for s in sessions if s.get("lean_toolchain")})
    mathlibs = sorted({str(s.get("mathlib_rev")) for s in sessions if s.get("mathlib_rev")})
    # The budget as the field writes it for step provers: attempts × tactics per expansion × expansions
    # (InternLM2.5-StepProver "2×32×600", BFS-Prover "32×32×100"), with the wall-time limit per attempt.
    K = int(meta.get("attempts") or 1)
    tactics = search.get("num_tactics") or gen.get("num_samples")
    exp = search.get("max_expansions")
    budget = f"pass@{K}" + (f"×{tactics}×{exp}" if tactics and exp else "")
    if search.get("time_limit"):
        budget += f", {float(search['time_limit']):g} s per attempt"
    return {
        "budget": budget,
        "created": meta.get("created") or (min(starts) if starts else None),
        "first_start": min(starts) if starts else None,
        "last_write": max(ends) if ends else None,
        "model": model,
        "decoding": gen.get("decoding"),
        "search": {
            k: search[k]
            for k in ("algorithm", "max_expansions", "time_limit", "num_tactics")
            if search.get(k) is not None
        },
        "lean_toolchains": toolchains,
        "mathlib_revs": mathlibs,
        "sessions": len(sessions),
    }


def _corrected(flagged: list[dict[str, Any]], rows: list[dict[str, Any]], summary: Any) -> dict[str, Any] | None:
    """The statements a corrected variant changed (``meta["corrected"]``), reported apart: each with its reason
    and outcome, and pass@k over them."""
    if not flagged:
        return None
    by_key = {r["key"]: r for r in rows}
    sel = [(f, by_key[f["key"]]) for f in flagged if f.get("key") in by_key]
    return {
        "theorems": [
            {"name": f["name"], "reason": f["reason"], "n": r["n"], "c": r["c"], "solved": r["solved"]} for f, r in sel
        ],
        "summary": summary([r for _, r in sel]),
    }


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
        errors = [f"#{a['attempt']} {a['status']}: {a['error']}" for a in ats if a["error"]]
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
                "errors": errors,
                "tries": sum(int(a["tries"] or 1) for a in ats),
                # the cheapest proving attempt: what a per-attempt budget needs to solve the theorem
                "solve_expansions": min((int(a["expansions"] or 0) for a in proved), default=None),
                "solve_lean_calls": min((int(a["lean_calls"] or 0) for a in proved), default=None),
                "proof_tactics": proof_length(first["proof"], t["statement"]) if first else None,
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
    counted = [a for a in attempts if int(a["attempt"]) < K]
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
        "corrected": _corrected(meta.get("corrected") or [], rows, summary),
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
        "attempt_times": {
            "proved": [float(a["time"] or 0.0) for a in counted if a["status"] == "proved"],
            "other": [float(a["time"] or 0.0) for a in counted if a["status"] != "proved"],
        },
        # Attempts that an infrastructure failure interrupted and a retry finished (the store's `tries`).
        "recovered": {
            "attempts": sum(1 for a in counted if int(a["tries"] or 1) > 1 and a["status"] != "error"),
            "retries": sum(int(a["tries"] or 1) - 1 for a in counted),
        },
        "run": run_info(meta, sessions),
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
        "stages": stage_summary([a for a in attempts if int(a["attempt"]) < K], len(rows)),  # whole-proof modes
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
    budget = (rep.get("run") or {}).get("budget")
    lines = [
        f"{name}: {a['theorems']} theorems, {K} attempt(s) each ({rep['attempts']['total']}/"
        f"{rep['attempts']['expected']} done), solved {a['solved']}{out_of}" + (f"; budget {budget}" if budget else ""),
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
    if rep.get("corrected"):
        cs = rep["corrected"]["summary"]
        lines.append(f"  statements this variant corrected: {cs['theorems']}, solved {cs['solved']}")
    t = rep["time"]
    st = rep["attempts"]["by_status"]
    lines.append(
        f"  wall {t['wall_seconds'] / 60:.1f} min; per theorem: time {t['per_theorem_mean'] or 0:.1f}s, "
        f"Lean calls {rep['lean_calls']['per_theorem_mean'] or 0:.1f}, expansions "
        f"{rep['expansions']['per_theorem_mean'] or 0:.1f} (means); attempts: "
        + (", ".join(f"{k} {v}" for k, v in sorted(st.items())) or "none yet")
    )
    sg = rep.get("stages")
    if sg:  # whole-proof modes: what closed the proofs, and APOLLO's accuracy vs samples
        closed = ", ".join(f"{k} {v}" for k, v in sg["stages"].items()) or "none"
        acc = "  ".join(f"≤{b}: {_pct(v)}" for b, v in sg["accuracy_vs_samples"].items())
        lines.append(f"  proofs by stage: {closed}; samples {sg['samples']}, tokens {sg['tokens']}")
        lines.append(f"  solved within N samples: {acc}")
        if sg.get("subgoals_closed"):
            by = ", ".join(f"{k} {v}" for k, v in sg["subgoals_closed"].items())
            lines.append(f"  sub-goals closed by stage: {by}")
        if sg.get("altered"):  # sketch mode: statements the sketch model restated (misformalisation hints)
            lines.append(f"  sketches that changed the statement: {len(sg['altered'])} theorem(s)")
            for name, e in list(sg["altered"].items())[:20]:
                lines.append(f"    {name} ({e['sketches']}x): {e.get('statement') or '?'}")
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
            "mode",
            "stage",
            "samples",
            "tokens",
        ]
        w.writerow(cols)
        for a in attempts:
            w.writerow([a.get(c) if a.get(c) is not None else "" for c in cols])
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
    images = html.plots(rep, rows) if plots_too else {}
    with atomic_write(run_dir / "report.html") as f:
        f.write(html.render_run(rep, rows, images, ANSWER_MODE_TEXT))
    return rep
