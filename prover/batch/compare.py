"""``prover report A B …``: several batch runs side by side.

Each run is read from its store (read-only: comparing never writes into a run directory) and summarised by
`prover.batch.report.build_report`. The comparison is over theorem keys: which theorems each run solved,
how those sets overlap (pairwise, solved by all, solved by one run only), pass@k curves on one plot, solved
vs wall time on one plot, and the cost of each run. Runs over different selections are compared on the
theorems they share; the page says how many that is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from prover.batch import html
from prover.batch.report import build_report
from prover.batch.store import ResultStore
from prover.errors import UserError


def load_run(run_dir: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with ResultStore.in_run_dir(run_dir, readonly=True) as store:
        rep = build_report(store)
    return rep, rep.pop("_rows")


def _labels(dirs: list[Path]) -> list[str]:
    """Short unique names: the directory name, with parents added until they differ."""
    parts = [d.resolve().parts for d in dirs]
    for n in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-n:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(d) for d in dirs]


def build_comparison(run_dirs: list[Path | str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the comparison, each run's report). Raises `UserError` for fewer than two runs or a bad run dir."""
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise UserError("comparing needs at least two run directories")
    if len({d.resolve() for d in dirs}) < len(dirs):
        raise UserError("the same run directory is given twice")
    labels = _labels(dirs)
    reports, solved, keys = [], [], []
    for d in dirs:
        rep, rows = load_run(d)
        reports.append(rep)
        keys.append({r["key"] for r in rows})
        solved.append({r["key"] for r in rows if r["solved"]})
    common = set.intersection(*keys)
    s_common = [s & common for s in solved]
    union = set.union(*s_common) if s_common else set()
    by_all = set.intersection(*s_common) if s_common else set()
    only = [sorted(s - set.union(*(t for j, t in enumerate(s_common) if j != i))) for i, s in enumerate(s_common)]
    pair = [[len(a & b) for b in s_common] for a in s_common]
    names = {}
    for rep in reports:
        for r in rep["theorems"]:
            names.setdefault(r["key"], r["name"])
    differs = sorted(union - by_all)
    runs = []
    for label, d, rep in zip(labels, dirs, reports, strict=True):
        K = rep["attempts_per_theorem"]
        runs.append(
            {
                "label": label,
                "run_dir": str(d),
                "benchmark": " ".join(str(x) for x in (rep.get("benchmark"), rep.get("split")) if x) or "?",
                "model": (rep.get("run") or {}).get("model", "?"),
                "answers": rep.get("answers"),
                "K": K,
                "theorems": rep["all"]["theorems"],
                "solved": rep["all"]["solved"],
                "pass_at_k": rep["all"]["pass_at_k"],
                "wall_seconds": rep["time"]["wall_seconds"],
                "attempt_seconds": rep["time"]["attempt_seconds"],
                "lean_calls": rep["lean_calls"]["total"],
                "expansions": rep["expansions"]["total"],
                "attempts": rep["attempts"]["total"],
                "errors": rep["attempts"]["by_status"].get("error", 0),
                "solved_at_wall_seconds": rep["solved_at_wall_seconds"],
            }
        )
    benchmarks = Counter(r["benchmark"] for r in runs)
    cmp = {
        "runs": runs,
        "common_theorems": len(common),
        "theorems_per_run": [len(k) for k in keys],
        "same_selection": all(k == keys[0] for k in keys),
        "same_benchmark": len(benchmarks) == 1,
        "solved_by_any": len(union),
        "solved_by_all": len(by_all),
        "solved_by_none": len(common - union),
        "pairwise_solved_both": pair,
        "only": [[names.get(k, k) for k in o] for o in only],
        "differences": [{"theorem": names.get(k, k), "solved": [k in s for s in s_common]} for k in differs],
    }
    return cmp, reports


def format_comparison(cmp: dict[str, Any]) -> str:
    lines = []
    if not cmp["same_selection"]:
        lines.append(
            f"runs cover different theorems ({', '.join(map(str, cmp['theorems_per_run']))}); overlap is over the "
            f"{cmp['common_theorems']} they share"
        )
    width = max(len(r["label"]) for r in cmp["runs"])
    for r in cmp["runs"]:
        K = r["K"]
        curve = f"pass@1 {html.pct(r['pass_at_k']['1'])}" + (
            f"  pass@{K} {html.pct(r['pass_at_k'][str(K)])}" if K > 1 else ""
        )
        lines.append(
            f"{r['label']:<{width}}  solved {r['solved']}/{r['theorems']}  {curve}  wall {r['wall_seconds'] / 60:.1f} "
            f"min  Lean calls {r['lean_calls']:.0f}  ({r['model']})"
        )
    lines.append(
        f"on {cmp['common_theorems']} shared theorems: solved by all {cmp['solved_by_all']}, by any "
        f"{cmp['solved_by_any']}, by none {cmp['solved_by_none']}"
    )
    for r, o in zip(cmp["runs"], cmp["only"], strict=True):
        if o:
            more = f" (+{len(o) - 8} more)" if len(o) > 8 else ""
            lines.append(f"  only {r['label']}: {len(o)}: {', '.join(o[:8])}{more}")
    return "\n".join(lines)


def comparison_plots(cmp: dict[str, Any]) -> dict[str, str]:
    plt = html._plt()
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    kmax = max(r["K"] for r in cmp["runs"])
    for r in cmp["runs"]:
        ks = list(range(1, r["K"] + 1))
        ys = [100 * (r["pass_at_k"][str(k)] or 0) for k in ks]
        ax.plot(ks, ys, marker="o", label=r["label"])
    ax.set_xlabel("k (attempts)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 100)
    if kmax > 8:
        ax.set_xscale("log", base=2)
    else:
        ax.set_xticks(range(1, kmax + 1))
    ax.set_title("pass@k")
    ax.grid(alpha=0.3)
    ax.legend()
    out["pass_at_k"] = html._png(fig)

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    span = max(
        [r["wall_seconds"] for r in cmp["runs"]] + [max(r["solved_at_wall_seconds"], default=0) for r in cmp["runs"]]
    )
    unit, div = html._time_unit(span)
    for r in cmp["runs"]:
        xs, ys = html._step_counts(t / div for t in r["solved_at_wall_seconds"])
        ax.step([*xs, r["wall_seconds"] / div], [*ys, len(r["solved_at_wall_seconds"])], where="post", label=r["label"])
    ax.set_xlabel(f"wall time ({unit})")
    ax.set_ylabel("theorems solved")
    ax.set_title("Solved vs wall time")
    ax.grid(alpha=0.3)
    ax.legend()
    out["solved_vs_time"] = html._png(fig)
    return out


def render_comparison(cmp: dict[str, Any], images: dict[str, str]) -> str:
    runs = cmp["runs"]
    labels = [r["label"] for r in runs]
    kmax = max(r["K"] for r in runs)
    ks = sorted({1, kmax} | {k for k in (2, 4, 8, 16, 32, 64, 128) if k <= kmax})
    body = [
        "<h1>Comparison of batch runs</h1>",
        f"<p class='sub'>{len(runs)} runs · {cmp['common_theorems']} theorems in common"
        + ("" if cmp["same_selection"] else " (the runs selected different theorems: overlap is over the shared ones)")
        + ("" if cmp["same_benchmark"] else " · <span class='warn'>different benchmarks</span>")
        + "</p>",
    ]
    head = ["run", "benchmark", "model", "theorems", "solved", *[f"pass@{k}" for k in ks], "wall (min)",
            "attempt time (s)", "Lean calls", "expansions", "errors"]  # fmt: skip
    rows = [
        [r["label"], r["benchmark"] + (f" ({r['answers']} answers)" if r["answers"] else ""), r["model"],
         r["theorems"], r["solved"], *[html.pct(r["pass_at_k"].get(str(k))) if k <= r["K"] else "—" for k in ks],
         f"{r['wall_seconds'] / 60:.1f}", f"{r['attempt_seconds']:.1f}", f"{r['lean_calls']:.0f}",
         f"{r['expansions']:.0f}", r["errors"]]
        for r in runs
    ]  # fmt: skip
    body += ["<h2>Runs</h2>", html.table(head, rows)]
    body += [
        "<div class='grid'>",
        html._img(images, "pass_at_k", "pass@k of every run"),
        html._img(images, "solved_vs_time", "solved vs wall time of every run"),
        "</div>",
    ]
    pair = [[labels[i], *cmp["pairwise_solved_both"][i]] for i in range(len(labels))]
    body += [
        "<h2>Solved sets</h2>",
        f"<p>On the {cmp['common_theorems']} shared theorems: solved by every run {cmp['solved_by_all']}, by at "
        f"least one {cmp['solved_by_any']}, by none {cmp['solved_by_none']}. The matrix counts theorems solved by "
        "both runs (the diagonal: by that run).</p>",
        html.table(["", *labels], pair),
    ]
    only = [[r["label"], len(o), ", ".join(o)] for r, o in zip(runs, cmp["only"], strict=True)]
    body += ["<h3>Solved by one run only</h3>", html.table(["run", "theorems", "which"], only)]
    if cmp["differences"]:
        diff = [[d["theorem"], *("✔" if s else "" for s in d["solved"])] for d in cmp["differences"]]
        body += ["<h3>Theorems some runs solved and others did not</h3>", html.table(["theorem", *labels], diff)]
    return html.page("prover report: comparison", body)


def write_comparison(run_dirs: list[Path | str], out: Path | str, *, plots_too: bool = True) -> dict[str, Any]:
    cmp, _ = build_comparison(run_dirs)
    images = comparison_plots(cmp) if plots_too else {}
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_comparison(cmp, images), encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e}") from e
    return cmp
