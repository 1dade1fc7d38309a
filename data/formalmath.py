"""FormalMATH (Lite: 425 problems, All: 5,560; arXiv 2505.02735): rows read into `Theorem`s.

A row (as on the Hugging Face datasets ``SphereLab/FormalMATH-Lite`` / ``-All``) has ``autoformalization``
(imports, opens, sometimes helper definitions, then the statement ending ``:= by``), ``refined_statement``
(the informal statement), ``solution`` (informal), ``theorem_names`` (upstream's id), ``domain`` and
``source``. The theorem is the last declaration of ``autoformalization``; its **name is the one declared in
the text**: in 116 of the 425 Lite rows ``theorem_names`` is something else (e.g. ``theorem_proving_zh_blue_735``
for ``theorem algebra_569189``), and the declared name is what a proof must use. ``theorem_names`` stays as
``meta["id"]``, and is the key when a declared name repeats (two Lite rows declare ``algebra_486944``).

``domain`` is hierarchical (``Mathematics -> Algebra -> Prealgebra -> Integers``), sometimes several
(separated by ``;``), sometimes a flat label from the source dataset (``precalculus_review``). Subjects are
the paths without the ``Mathematics`` root, joined by ``/`` (``Algebra/Prealgebra/Integers``); reports
aggregate them by top level and by leaf.

Flaws found in the rows are flagged like ``known_issue`` (reported apart): a text with several open or
``sorry``-proved theorems, where the open one is not the row's problem.
"""

from __future__ import annotations

from typing import Any

from prover.errors import UserError
from prover.lean.syntax import scan
from prover.lean.types import Theorem

ROOT = "Mathematics"


class FormalMathError(UserError):
    """A FormalMATH row that cannot be read (names the file and line)."""


def subjects_of_domain(domain: str | None) -> list[str]:
    """``"Mathematics -> Algebra -> Other; Mathematics -> Geometry -> Other;"`` →
    ``["Algebra/Other", "Geometry/Other"]``; flat labels are kept as they are; duplicates dropped."""
    out: list[str] = []
    for part in (domain or "").split(";"):
        path = [p.strip() for p in part.split("->") if p.strip()]
        if path and path[0] == ROOT and len(path) > 1:
            path = path[1:]
        if path:
            s = "/".join(path)
            if s not in out:
                out.append(s)
    return out


def theorem_from_row(row: Any, where: str, benchmark: str = "formalmath") -> Theorem:
    """One FormalMATH row to a `Theorem` (see the module docstring)."""
    if not isinstance(row, dict):
        raise FormalMathError(f"{where}: expected a JSON object, got {type(row).__name__}")
    text = row.get("autoformalization")
    if not isinstance(text, str) or not text.strip():
        raise FormalMathError(f"{where}: missing or empty field 'autoformalization'")
    text = text.rstrip()
    src = scan(text)
    if src.problems:
        p = src.problems[0]
        raise FormalMathError(f"{where}: autoformalization {p.line}:{p.column}: {p.message}")
    decls = [d for d in src.declarations if d.kind in ("theorem", "lemma", "def", "abbrev", "example")]
    if not decls:
        raise FormalMathError(f"{where}: no theorem in 'autoformalization'")
    d = decls[-1]
    if d.delimiter != ":=" or d.proof is None or text[d.proof[0] : d.proof[1]].split() != ["by"]:
        raise FormalMathError(f"{where}: 'autoformalization' does not end with `:= by`")
    statement = text[d.keyword :]  # `theorem … := by`
    header = text[: d.outer_start].rstrip() + "\n\n"
    name = d.name or f"{row.get('theorem_names') or 'formalmath'}_example"
    upstream_id = str(row.get("theorem_names") or "")
    flaw = None
    others = [x for x in decls[:-1] if x.is_theorem]
    if others:
        flaw = (
            f"the formal text holds {len(decls)} declarations ({len(others)} other theorem(s), proved by `sorry` "
            f"in the header); the open one, {name}, may not be the informal problem {upstream_id}"
        )
    prov = row.get("provenance") if isinstance(row.get("provenance"), dict) else {}
    meta: dict[str, Any] = {
        "split": "test",
        "id": upstream_id or name,
        "key": name,
        "origin": where,
        "known_issue": row.get("known_issue") or flaw,
        "informal_statement": str(row.get("refined_statement") or ""),
        "informal_proof": str(row.get("solution") or ""),
        "subjects": subjects_of_domain(row.get("domain")),
        "domain": row.get("domain"),
        "dataset_source": row.get("source"),
        "declared_name_differs": bool(upstream_id) and upstream_id != name,
        "benchmark": benchmark,
        "upstream": prov.get("upstream") or prov.get("repo") or "",
    }
    if row.get("lean_toolchain"):
        meta["lean_toolchain"] = row["lean_toolchain"]
    return Theorem(name=name, statement=statement, header=header, source=where, meta=meta)
