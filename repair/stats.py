"""Per-stage statistics of whole-proof runs, from a batch store's attempt rows (for `prover report`).

* ``stages``: proved attempts by the stage that closed them (``raw`` … ``recursion``, `repair.loop.STAGES`);
* ``accuracy_vs_samples``: APOLLO's table: the fraction of theorems solved within a sample budget, where a
  theorem's cost is the whole-proof samples its attempts spent (in attempt order) up to and including its
  first proof, sub-lemma samples included;
* ``subgoals_closed``: sorries / sketch placeholders closed, by the stage that closed them (automation,
  search, sublemma, recursion), summed over the attempts (proved or not);
* ``altered``: sketch mode: the theorems whose sketches restated the theorem differently (rejected by the gate's
  screen), with how many sketches did and the first such statement (DSP+ found misformalisations this way);
* totals of samples and tokens.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from repair.loop import STAGES


def stage_summary(attempts: list[dict[str, Any]], theorems: int) -> dict[str, Any] | None:
    """None when no attempt ran in a whole-proof mode."""
    whole = [a for a in attempts if (a.get("mode") or "step") != "step"]
    if not whole:
        return None
    stages = Counter(a.get("stage") or "?" for a in whole if a["status"] == "proved")
    by_thm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in whole:
        by_thm[a["theorem"]].append(a)
    costs: list[int] = []
    for ats in by_thm.values():
        spent = 0
        for a in sorted(ats, key=lambda a: int(a["attempt"])):
            spent += int(a.get("samples") or 0)
            if a["status"] == "proved":
                costs.append(spent)
                break
    most = max((int(a.get("samples") or 0) for a in whole), default=0) * max(
        (len(v) for v in by_thm.values()), default=1
    )
    budgets: list[int] = []
    b = 1
    while b < most:
        budgets.append(b)
        b *= 2
    budgets.append(max(most, 1))
    n = max(theorems, 1)
    closed: Counter[str] = Counter()
    altered: dict[str, dict[str, Any]] = {}
    for a in whole:
        st = _stats(a)
        for stage, k in (st.get("closed") or {}).items():
            closed[stage] += int(k)
        for sub in (st, st.get("sketch") or {}):  # hybrid with a sketch first keeps its record under "sketch"
            if int(sub.get("altered") or 0) > 0:
                entry = altered.setdefault(a["theorem"], {"sketches": 0, "statement": sub.get("altered_statement")})
                entry["sketches"] += int(sub["altered"])
    return {
        "stages": {s: stages[s] for s in (*STAGES, "?") if stages.get(s)},
        "accuracy_vs_samples": {str(b): sum(c <= b for c in costs) / n for b in budgets},
        "samples": sum(int(a.get("samples") or 0) for a in whole),
        "tokens": sum(int(a.get("tokens") or 0) for a in whole),
        "modes": dict(Counter(a.get("mode") for a in whole)),
        "subgoals_closed": {s: closed[s] for s in STAGES if closed.get(s)},
        "altered": altered,
    }


def _stats(a: dict[str, Any]) -> dict[str, Any]:
    """An attempt row's ``stats`` (a JSON text in the store, a dict in memory)."""
    st = a.get("stats")
    if isinstance(st, str):
        try:
            st = json.loads(st)
        except ValueError:
            return {}
    return st if isinstance(st, dict) else {}
