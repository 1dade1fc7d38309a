"""The HTML pages of batch runs: one run's ``report.html`` and the comparison of several runs.

Self-contained files (no network: plots are PNGs embedded as data URLs, the table's sorting and filtering is
a few lines of inline JavaScript), readable in any browser and checked in a headless Chromium
(``tests/test_report_browser.py``). The numbers come from `prover.batch.report.build_report`; nothing here
computes a result, it only lays them out.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

# ---------------------------------------------------------------------------------------------------
# Plots (matplotlib, PNG as base64)

_FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(_FONT)
    return plt


def _png(fig: Any) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _time_unit(span: float) -> tuple[str, float]:
    return ("hours", 3600.0) if span > 3 * 3600 else ("minutes", 60.0) if span > 120 else ("seconds", 1.0)


def _step_counts(values: Iterable[float]) -> tuple[list[float], list[int]]:
    """x, y of "how many values are <= x" as a step curve starting at 0."""
    vs = sorted(values)
    return [0.0, *vs], [0, *range(1, len(vs) + 1)]


def _subject_bars(ax: Any, subs: dict[str, Any], K: int, title: str, limit: int = 30) -> None:
    """Horizontal bars of pass@1 (and pass@K), most populated subjects first; every bar labelled with
    solved/theorems so a 0% subject is visible."""
    import numpy as np

    names = sorted(subs, key=lambda s: (-subs[s]["theorems"], s))[:limit]
    names.reverse()  # largest at the top
    y = np.arange(len(names))
    p1 = [100 * (subs[s]["pass_at_k"]["1"] or 0) for s in names]
    pk = [100 * (subs[s]["pass_at_k"][str(K)] or 0) for s in names]
    h = 0.4 if K > 1 else 0.8
    ax.barh(y + (h / 2 if K > 1 else 0), p1, h, label="pass@1", color="#4878a8")
    if K > 1:
        ax.barh(y - h / 2, pk, h, label=f"pass@{K}", color="#e08a3c")
    for i, s in enumerate(names):
        v = subs[s]
        right = max(p1[i], pk[i])
        ax.text(right + 1, y[i], f"{v['solved']}/{v['theorems']}", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 110)
    ax.set_xlabel("% of theorems")
    ax.set_title(title + (f" (the {limit} largest)" if len(subs) > limit else ""))
    ax.grid(axis="x", alpha=0.3)
    if K > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / max(4, len(names))), ncol=2, frameon=False)


def plots(rep: dict[str, Any], rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Base64 PNGs keyed by name: solved vs wall time, pass@k, per subject (leaf, and top level when the
    subjects are hierarchical), solved vs per-attempt budget (expansions, Lean calls), time per attempt and
    proof length histograms."""
    plt = _plt()
    out: dict[str, str] = {}
    K = rep["attempts_per_theorem"]

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ts = rep["solved_at_wall_seconds"]
    wall = rep["time"]["wall_seconds"]
    unit, div = _time_unit(max([wall, *ts]))
    xs, ys = _step_counts(t / div for t in ts)
    ax.step([*xs, wall / div], [*ys, len(ts)], where="post")
    ax.set_xlabel(f"wall time ({unit})")
    ax.set_ylabel("theorems solved")
    ax.set_title(f"Solved vs wall time ({rep['all']['theorems']} theorems)")
    ax.grid(alpha=0.3)
    out["solved_vs_time"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = list(range(1, K + 1))
    for label, key in (("all", "all"), ("without known issues", "clean")):
        if key == "clean" and not rep["known_issues"]:
            continue
        vals = [rep[key]["pass_at_k"][str(k)] for k in ks]
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
    n = min(30, len(subs))
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * n * (2 if K > 1 else 1) ** 0.5))
    _subject_bars(ax, subs, K, "By subject" if not rep.get("subjects_top") else "By subject (leaf)")
    out["subjects"] = _png(fig)
    if rep.get("subjects_top"):
        tops = rep["subjects_top"]
        fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * min(30, len(tops)) * (2 if K > 1 else 1) ** 0.5))
        _subject_bars(ax, tops, K, "By subject (top level)")
        out["subjects_top"] = _png(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, label in ((axes[0], "solve_expansions", "expansions"), (axes[1], "solve_lean_calls", "Lean calls")):
        vals = [r[key] for r in rows if r.get(key) is not None]
        xs, ys = _step_counts(vals)
        ax.step(xs, ys, where="post")
        ax.set_xlabel(f"{label} per attempt (cheapest proof)")
        ax.set_ylabel("theorems solved")
        ax.set_title(f"Solved vs {label}")
        ax.grid(alpha=0.3)
    out["solved_vs_budget"] = _png(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    times = rep["attempt_times"]
    if times["proved"] or times["other"]:
        axes[0].hist([times["proved"], times["other"]], bins=20, stacked=True, label=["proved", "not proved"])
        axes[0].legend()
    axes[0].set_xlabel("seconds")
    axes[0].set_ylabel("attempts")
    axes[0].set_title("Time per attempt")
    lengths = [r["proof_tactics"] for r in rows if r.get("proof_tactics") is not None]
    if lengths:
        top = max(lengths)
        axes[1].hist(lengths, bins=range(0, top + 2), align="left", color="#5a9e6f")
    axes[1].set_xlabel("tactics in the proof")
    axes[1].set_ylabel("theorems")
    axes[1].set_title("Proof length (solved theorems)")
    for ax in axes:
        ax.grid(alpha=0.3)
    out["histograms"] = _png(fig)
    return out


# ---------------------------------------------------------------------------------------------------
# HTML pieces

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;font-size:15px;line-height:1.45;
margin:24px auto;max-width:1280px;padding:0 16px;color:#1d2330}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 12px}td,th{border:1px solid #d5dbe5;padding:4px 10px;text-align:right;
vertical-align:top}th{background:#f1f4f9;font-weight:600}td:first-child,th:first-child{text-align:left}
td.l,th.l{text-align:left}.kv td{text-align:left}.kv td:first-child{color:#5b6475;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid img{max-width:100%;border:1px solid #e4e8ef;border-radius:6px}
.big{font-size:30px;font-weight:700}.cards{display:flex;gap:14px;flex-wrap:wrap;margin:8px 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:8px 14px;min-width:150px}.card div:last-child{color:#5b6475}
#thm{width:100%;font-size:14px}#thm th{cursor:pointer;position:sticky;top:0;user-select:none}
#thm th.sorted-asc::after{content:' ▲'}#thm th.sorted-desc::after{content:' ▼'}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b3261e}.warn{color:#9a6700}
details pre{white-space:pre-wrap;max-width:720px;text-align:left;background:#f7f8fa;padding:6px;font-size:13px}
.controls{display:flex;gap:10px;align-items:center;margin:6px 0}input,select{font-size:14px;padding:3px 6px}
"""

_JS = """
(function(){
const t=document.getElementById('thm');if(!t)return;
const tb=t.tBodies[0],rows=Array.from(tb.rows),q=document.getElementById('q'),st=document.getElementById('st'),
 shown=document.getElementById('shown');
function key(td){const v=td.dataset.v;if(v===undefined)return td.textContent.toLowerCase();const n=parseFloat(v);
 return isNaN(n)?v.toLowerCase():n;}
t.tHead.rows[0].querySelectorAll('th').forEach((th,i)=>th.addEventListener('click',()=>{
 const asc=!th.classList.contains('sorted-asc');t.tHead.querySelectorAll('th').forEach(h=>h.classList.remove(
 'sorted-asc','sorted-desc'));th.classList.add(asc?'sorted-asc':'sorted-desc');
 rows.sort((a,b)=>{const x=key(a.cells[i]),y=key(b.cells[i]);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
 rows.forEach(r=>tb.appendChild(r));}));
function filter(){const s=q.value.toLowerCase(),f=st.value;let n=0;rows.forEach(r=>{
 const okq=!s||r.dataset.text.includes(s),okf=!f||r.dataset.tags.split(' ').includes(f);
 r.style.display=okq&&okf?'':'none';n+=okq&&okf;});shown.textContent=n+' of '+rows.length;}
q.addEventListener('input',filter);st.addEventListener('change',filter);filter();
t.dataset.ready='1';
})();
"""


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


_NUMBER = re.compile(r"[-+]?[\d.,]+\s*(%|min|s)?|—|")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """A plain table: numbers right-aligned, text left; ``cls="kv"``: a key/value list without a header row."""
    rows = [list(r) for r in rows]
    text_cols = {i for r in rows for i, c in enumerate(r) if not _NUMBER.fullmatch(str("" if c is None else c).strip())}
    h = "".join(f"<th{' class=l' if i in text_cols else ''}>{esc(x)}</th>" for i, x in enumerate(headers))
    head = "" if cls == "kv" else f"<thead><tr>{h}</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f"<td{' class=l' if i in text_cols else ''}>{esc(c)}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table class='{cls}'>{head}<tbody>{body}</tbody></table>"


def _date(ts: float | None) -> str:
    if not ts:
        return "?"
    return _dt.datetime.fromtimestamp(float(ts), tz=_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _img(images: dict[str, str], key: str, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{images[key]}">' if key in images else ""


def page(title: str, body: Sequence[str], *, script: bool = False) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        *body,
    ]
    if script:
        parts.append(f"<script>{_JS}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------
# One run


def _status_cell(r: dict[str, Any]) -> tuple[str, str, str]:
    """(text, css class, filter tags) of a theorem's outcome."""
    st = r["statuses"]
    if r["solved"]:
        return f"proved {r['c']}/{r['n']}", "ok", "solved"
    if not r["n"]:
        return "not run", "warn", "unsolved notrun"
    if st.get("error"):
        return f"error {st['error']}/{r['n']}", "bad", "unsolved error"
    if st.get("timeout"):
        return f"timeout {st['timeout']}/{r['n']}", "warn", "unsolved timeout"
    return f"failed {r['n']}/{r['n']}", "", "unsolved failed"


def theorem_table(rows: Sequence[dict[str, Any]]) -> str:
    head = [
        "theorem", "subjects", "outcome", "attempts", "time (s)", "expansions", "Lean calls", "proof tactics",
        "proof", "errors",
    ]  # fmt: skip
    out = [
        "<div class='controls'><input id='q' placeholder='filter by name or subject' size='32'>",
        "<select id='st'><option value=''>all</option><option value='solved'>solved</option>",
        "<option value='unsolved'>not solved</option><option value='error'>with errors</option>",
        "<option value='timeout'>timed out</option><option value='known'>known issue</option></select>",
        "<span id='shown'></span> shown; click a column to sort</div>",
        "<table id='thm'><thead><tr>"
        + "".join(f"<th{' class=l' if i < 3 or i > 7 else ''}>{h}</th>" for i, h in enumerate(head))
        + "</tr></thead><tbody>",
    ]
    for r in rows:
        text, cls, tags = _status_cell(r)
        if r["known_issue"]:
            tags += " known"
        subjects = ", ".join(r["subjects"])
        name = esc(r["name"]) + (
            f" <span class='warn' title='{esc(r['known_issue'])}'>⚠</span>" if r["known_issue"] else ""
        )
        proof = f"<details><summary>show</summary><pre>{esc(r['proof'])}</pre></details>" if r["proof"] else ""
        errs = (
            f"<details><summary>{len(r['errors'])}</summary><pre>{esc(chr(10).join(r['errors']))}</pre></details>"
            if r["errors"]
            else ""
        )
        rank = 0 if r["solved"] else 1 if not r["statuses"].get("error") else 2
        cells = [
            (name, r["name"]),
            (esc(subjects), subjects),
            (f"<span class='{cls}'>{esc(text)}</span>", f"{rank}{r['c']:06d}"),
            (f"{r['c']}/{r['n']}", r["n"]),
            (f"{r['time']:.1f}", r["time"]),
            (str(r["expansions"]), r["expansions"]),
            (str(r["lean_calls"]), r["lean_calls"]),
            ("" if r["proof_tactics"] is None else str(r["proof_tactics"]), r["proof_tactics"] or -1),
            (proof, r["proof_tactics"] or -1),
            (errs, len(r["errors"])),
        ]
        td = "".join(
            f"<td{' class=l' if i < 3 or i > 7 else ''} data-v='{esc(v)}'>{c}</td>" for i, (c, v) in enumerate(cells)
        )
        search = esc(f"{r['name']} {subjects}".lower())
        out.append(f"<tr data-text='{search}' data-tags='{tags}'>{td}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _stages_section(sg: dict[str, Any] | None) -> list[str]:
    """Whole-proof modes (whole / repair / hybrid / sketch): which stage closed each proof, APOLLO's accuracy
    vs samples, the sub-goals each stage closed, and the statements sketches changed."""
    if not sg:
        return []
    out = ["<h2>Whole-proof stages</h2>"]
    modes = ", ".join(f"{k} {v}" for k, v in sg["modes"].items())
    out.append(table(["", ""], [["attempts by mode", modes], ["samples", sg["samples"]], ["tokens", sg["tokens"]]],
                     "kv"))  # fmt: skip
    out += ["<h3>Proofs by the stage that closed them</h3>",
            table(["stage", "proofs"], sg["stages"].items()) if sg["stages"] else "<p>none yet</p>"]  # fmt: skip
    acc = sg["accuracy_vs_samples"]
    out += ["<h3>Solved within N samples</h3>", table(["samples", "solved"], [[b, pct(v)] for b, v in acc.items()])]
    if sg.get("subgoals_closed"):
        out += ["<h3>Sub-goals closed by stage</h3>", table(["stage", "sub-goals"], sg["subgoals_closed"].items())]
    if sg.get("altered"):
        rows = [[name, e["sketches"], e.get("statement") or "?"] for name, e in sg["altered"].items()]
        out += ["<h3>Sketches that changed the statement</h3>", table(["theorem", "sketches", "first statement"], rows)]
    return out


def render_run(rep: dict[str, Any], rows: Sequence[dict[str, Any]], images: dict[str, str], answer_text: dict) -> str:
    """``report.html`` of one run."""
    K = rep["attempts_per_theorem"]
    ks = list(range(1, K + 1))
    title = " ".join(str(x) for x in (rep.get("benchmark"), rep.get("split")) if x) or "batch run"
    run = rep.get("run") or {}
    info = rep.get("benchmark_info") or {}
    a = rep["all"]
    total = info.get("total")
    body = [
        f"<h1>{esc(title)}</h1>",
        f"<p class='sub'>{esc(rep['run_dir'])} · started {esc(_date(run.get('first_start')))} · last result "
        f"{esc(_date(run.get('last_write')))} · {run.get('sessions', 0)} session(s)</p>",
    ]
    cards = [
        (f"{a['solved']}" + (f" / {total}" if total else f" / {a['theorems']}"), "solved"
         + (f" (of the benchmark's {total}; {a['theorems']} in this run)" if total else "")),
        (pct(a["pass_at_k"]["1"]), "pass@1"),
    ]  # fmt: skip
    if K > 1:
        cards.append((pct(a["pass_at_k"][str(K)]), f"pass@{K}"))
    cards += [
        (f"{rep['time']['wall_seconds'] / 60:.1f} min", "wall time"),
        (f"{rep['attempts']['total']} / {rep['attempts']['expected']}", "attempts done"),
    ]
    body.append(
        "<div class='cards'>"
        + "".join(f"<div class='card'><div class='big'>{esc(v)}</div><div>{esc(k)}</div></div>" for v, k in cards)
        + "</div>"
    )
    kv = [
        ["model", run.get("model", "?") + (f" ({run['decoding']})" if run.get("decoding") else "")],
        ["search", ", ".join(f"{k} {v}" for k, v in (run.get("search") or {}).items()) or "?"],
        ["budget (attempts × tactics per expansion × expansions)", run.get("budget") or "?"],
        ["Lean toolchain (project)", ", ".join(run.get("lean_toolchains") or []) or "?"],
        ["Mathlib (project)", ", ".join(run.get("mathlib_revs") or []) or "?"],
        [
            "Lean versions that checked the proofs",
            ", ".join(f"{k} ({v})" for k, v in rep["lean_versions_of_proofs"].items()) or "—",
        ],
    ]
    if info:
        kv += [
            ["benchmark source", info.get("source") or "?"],
            ["statements checked with", f"{info.get('lean_toolchain') or '?'}, Mathlib {info.get('mathlib') or '?'}"],
            ["license", info.get("license") or "?"],
        ]
    if rep.get("answers"):
        kv.append(["answer placeholders", answer_text.get(rep["answers"], rep["answers"])])
    body += ["<h2>Run</h2>", table(["", ""], kv, "kv")]

    head = [["all", a["theorems"], a["solved"], *[pct(a["pass_at_k"][str(k)]) for k in ks]]]
    if rep["known_issues"]:
        c = rep["clean"]
        head.append(["without known issues", c["theorems"], c["solved"], *[pct(c["pass_at_k"][str(k)]) for k in ks]])
    cols = ["", "theorems", "solved", *[f"pass@{k}" for k in ks]]
    body += [
        "<h2>Results</h2>",
        "<p>pass@k: the unbiased estimator 1 − C(n−c, k)/C(n, k) averaged over theorems with at least k attempts "
        "(every recorded attempt counts, an infrastructure error as a failed sample).</p>",
        table(cols, head),
        "<div class='grid'>",
        _img(images, "solved_vs_time", "solved vs wall time"),
        _img(images, "pass_at_k", "pass@k"),
        _img(images, "solved_vs_budget", "solved vs expansions and Lean calls"),
        _img(images, "histograms", "time per attempt, proof length"),
        "</div>",
    ]
    multi = "<p>A theorem with several subjects counts in each.</p>" if rep.get("multi_subject") else ""
    subj = [
        [s, v["theorems"], v["solved"], *[pct(v["pass_at_k"][str(k)]) for k in ks]] for s, v in rep["subjects"].items()
    ]
    body += ["<h2>By subject</h2>", multi]
    if rep.get("subjects_top"):
        top = [[s, v["theorems"], v["solved"], *[pct(v["pass_at_k"][str(k)]) for k in ks]]
               for s, v in rep["subjects_top"].items()]  # fmt: skip
        body += ["<h3>Top level</h3>", _img(images, "subjects_top", "by top-level subject"), table(cols, top),
                 "<h3>Leaf</h3>"]  # fmt: skip
    body += [_img(images, "subjects", "by subject"), table(cols, subj)]

    t = rep["time"]
    st = rep["attempts"]["by_status"]
    ie = rep.get("infrastructure_errors") or {}
    rec = rep.get("recovered") or {}
    cost = [
        ["wall time (s)", f"{t['wall_seconds']:.1f}"],
        ["attempt time, total (s)", f"{t['attempt_seconds']:.1f}"],
        ["time per theorem, mean / median (s)",
         f"{t['per_theorem_mean'] or 0:.2f} / {t['per_theorem_median'] or 0:.2f}"],
        ["Lean calls per theorem, mean / median",
         f"{rep['lean_calls']['per_theorem_mean'] or 0:.1f} / {rep['lean_calls']['per_theorem_median'] or 0:.1f}"],
        ["expansions per theorem, mean / median",
         f"{rep['expansions']['per_theorem_mean'] or 0:.1f} / {rep['expansions']['per_theorem_median'] or 0:.1f}"],
        ["attempts by status", ", ".join(f"{k}: {v}" for k, v in sorted(st.items())) or "—"],
        ["timed out (final)", st.get("timeout", 0)],
        ["ended in an error", st.get("error", 0)],
        ["recovered after an infrastructure failure (retried, then finished)", rec.get("attempts", 0)],
        ["retries spent", rec.get("retries", 0)],
    ]  # fmt: skip
    if ie.get("attempts"):
        cost += [
            ["cut short by infrastructure (not counted as failed)", ie["attempts"]],
            ["… by cause", ", ".join(f"{k} {v}" for k, v in (ie.get("by_cause") or {}).items()) or "—"],
            [
                "… redone by rerunning the command / given up",
                f"{ie.get('redone_by_resume', 0)} / {ie.get('given_up', 0)}",
            ],
        ]
    body += ["<h2>Cost and faults</h2>", table(["", ""], cost, "kv")]
    body += _stages_section(rep.get("stages"))

    body += ["<h2>Theorems</h2>", theorem_table(rows)]
    if rep["known_issues"]:
        body += [
            "<h2>Known-issue statements (reported apart)</h2>",
            table(
                ["theorem", "issue", "proved/n"],
                [[k["name"], k["reason"], f"{k['c']}/{k['n']}"] for k in rep["known_issues"]],
            ),
        ]
    if rep.get("corrected"):
        cor = rep["corrected"]
        body += [
            "<h2>Corrected statements (reported apart)</h2>",
            f"<p>{cor['summary']['theorems']} statements differ from the benchmark this variant corrects; solved "
            f"{cor['summary']['solved']}, pass@1 {pct(cor['summary']['pass_at_k']['1'])}.</p>",
            table(
                ["theorem", "what was corrected", "proved/n"],
                [[c["name"], c["reason"], f"{c['c']}/{c['n']}"] for c in cor["theorems"]],
            ),
        ]
    if rep["skipped_known_issues"]:
        body += [
            "<h2>Skipped (known issues)</h2>",
            table(["theorem", "issue"], [[k["name"], k["reason"]] for k in rep["skipped_known_issues"]]),
        ]
    if rep.get("answer_problems"):
        body += [
            "<h2>Answers that could not be inlined (placeholder left <code>sorry</code>)</h2>",
            table(["theorem", "why"], [[p["name"], p["reason"]] for p in rep["answer_problems"]]),
        ]
    sess = [
        [s["id"], _date(s["started"]), s["host"], s["backend"], s["workers"], s["lean_toolchain"] or "?",
         s["mathlib_rev"] or "?"]
        for s in rep["sessions"]
    ]  # fmt: skip
    body += ["<h2>Sessions</h2>", table(["id", "started", "host", "backend", "workers", "toolchain", "Mathlib"], sess)]
    errors = [[e["theorem"], e["attempt"], e["status"], e["error"] or ""] for e in rep["errors"][:200]]
    if errors:
        body += ["<h2>Errors and timeouts</h2>", table(["theorem", "attempt", "status", "message"], errors)]
    body += [
        "<h2>Configuration</h2>",
        "<details><summary>the run's config</summary>"
        f"<pre>{esc(json.dumps(rep.get('config'), indent=1))}</pre></details>",
    ]
    return page(f"prover batch: {title}", body, script=True)
