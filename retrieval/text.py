"""How premises and goal states become text (for encoders) and tokens (for BM25)."""

from __future__ import annotations

import re

from prover.lean.types import Theorem
from retrieval.base import Premise
from retrieval.lean_source import statement_without_name

# Identifier runs (dots, primes, subscripts included) or single non-space symbols.
_TOKEN = re.compile(r"[\w'!?.]+|[^\w\s(),:\[\]{}⟨⟩⦃⦄]")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9']+|[^\W_]+")


def lean_tokens(text: str) -> list[str]:
    """Lowercased BM25 tokens: each identifier, its dot components, its ``_`` / camelCase words; symbols as is."""
    out: list[str] = []
    for t in _TOKEN.findall(text):
        t = t.strip(".")
        if not t:
            continue
        if not (t[0].isalnum() or t[0] == "_"):
            out.append(t)
            continue
        low = t.lower()
        out.append(low)
        parts = [p for p in t.split(".") if p]
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
        for p in parts:
            words = [w for w in p.split("_") if w]
            sub: list[str] = []
            for w in words:
                cw = _CAMEL.findall(w)
                sub.extend(cw if len(cw) > 1 else [w])
            if len(sub) > 1:
                out.extend(w.lower() for w in sub)
    return out


def premise_text(p: Premise, style: str = "plain") -> str:
    """Text a premise is embedded / indexed as.

    ``plain``: ``FULL.NAME : statement`` (binders and type, without the keyword); ``reprover``: ReProver's
    serialisation, the code with the name marked ``<a>FULL.NAME</a>`` (as its ByT5 retriever was trained).
    """
    if style == "reprover":
        return reprover_serialize(p)
    stmt = statement_without_name(p.code)
    if stmt.startswith(p.full_name):  # generated members (``S.f : T``) carry their name without a keyword
        stmt = stmt[len(p.full_name) :]
    return f"{p.full_name} {stmt.strip()}".strip()


def reprover_serialize(p: Premise) -> str:
    annot = f"<a>{p.full_name}</a>"
    code = p.code.replace(f"_root_.{p.full_name}", annot)
    fields = p.full_name.split(".")
    for i in range(len(fields)):
        prefix = ".".join(fields[i:])
        new_code = re.sub(rf"(?<=\s)«?{re.escape(prefix)}»?", lambda _m: annot, code)
        if new_code != code:
            return new_code
    return code


def query_text(state: str, theorem: Theorem | None = None, with_statement: bool = False) -> str:
    """The retrieval query: the goal state, optionally followed by the theorem's statement."""
    if with_statement and theorem is not None and theorem.statement:
        return f"{state}\n\n{theorem.statement}"
    return state
