"""Resolving the identifiers a proof text writes to corpus declarations, the way Lean 4 would (approximately).

An identifier ``I`` written in a declaration ``A.B.foo`` inside ``namespace A`` with ``open O`` resolves to the
first accessible declaration among ``A.B.I``, ``A.I``, ``I`` (the declaration's own namespace and its parents,
innermost first), then ``O.I`` for each open namespace (``O`` itself possibly relative to the namespaces),
latest ``open`` first. A ``protected`` declaration ``N.x`` is not reachable as plain ``x`` through a namespace
or ``open``; ``_root_.x`` is absolute. When ``I = J.f`` does not resolve, ``J`` is tried (``foo.mp``,
``h.trans`` are projections). Only accessible declarations can be found (file imports, earlier in the file,
``private`` only in its own file) and a declaration never refers to itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from retrieval.lean_source import Declaration, Export, referenced_identifiers

if TYPE_CHECKING:
    from retrieval.corpus import Corpus


def _prefixes(ns: str) -> list[str]:
    """``A.B`` → ``["A.B", "A", ""]``."""
    if not ns:
        return [""]
    parts = ns.split(".")
    return [".".join(parts[:k]) for k in range(len(parts), 0, -1)] + [""]


def export_candidates(target: str, name: str, ns: str, opens: tuple[str, ...]) -> list[str]:
    """Full names ``target.name`` may denote in namespace ``ns`` with ``opens`` (innermost first)."""
    parts = ns.split(".") if ns else []
    out = [".".join([*parts[:k], target, name]) for k in range(len(parts), -1, -1)]
    return out + [f"{o}.{target}.{name}" for o in reversed(opens)]


class NameResolver:
    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        # suffix (1..n last components) → [(prefix, premise index)]
        by_suffix: dict[str, list[tuple[str, int]]] = {}
        for i, p in enumerate(corpus.premises):
            parts = p.full_name.split(".")
            for k in range(len(parts)):
                by_suffix.setdefault(".".join(parts[k:]), []).append((".".join(parts[:k]), i))
        self.by_suffix = by_suffix
        self._file = -1
        self._reach_row: np.ndarray | None = None
        self._ranks_cache: dict[tuple[str, tuple[str, ...]], dict[str, int]] = {}

    def add_export(self, file_idx: int, e: Export) -> None:
        """``export T (a b)`` in file ``file_idx``: ``ns.a`` names ``T.a`` (``T`` resolved from where the
        command is written, through its namespace and opens)."""
        c = self.corpus
        for nm in e.names:
            target = None
            for cand in export_candidates(e.target, nm, e.namespace, e.opens):
                ids = c.name_index.get(cand)
                if ids:
                    target = ids[0]
                    break
            if target is None:
                continue
            alias = f"{e.namespace}.{nm}" if e.namespace else nm
            parts = alias.split(".")
            for k in range(len(parts)):
                self.by_suffix.setdefault(".".join(parts[k:]), []).append((".".join(parts[:k]), target))

    def set_file(self, file_idx: int) -> None:
        self._file = file_idx
        self._reach_row = self.corpus.reach[file_idx]

    def _ranks(self, ns: str, opens: tuple[str, ...]) -> dict[str, int]:
        key = (ns, opens)
        r = self._ranks_cache.get(key)
        if r is None:
            r = {}
            pres = _prefixes(ns)
            for k, p in enumerate(pres):
                r.setdefault(p, k)
            base = len(pres)
            for j, o in enumerate(reversed(opens)):
                for p in pres:
                    full = f"{p}.{o}" if p else o
                    r.setdefault(full, base + j)
            if len(self._ranks_cache) > 20000:
                self._ranks_cache.clear()
            self._ranks_cache[key] = r
        return r

    def accessible(self, j: int, line: int) -> bool:
        c = self.corpus
        fj = int(c.premise_file[j])
        if fj == self._file:
            return int(c.premise_line[j]) < line
        if c.private[j]:
            return False
        assert self._reach_row is not None
        return bool(self._reach_row[fj])

    def resolve(self, ident: str, ns: str, opens: tuple[str, ...], line: int, self_idx: int = -1) -> int | None:
        """Corpus index of what ``ident`` names at ``line`` of the current file, or ``None``."""
        c = self.corpus
        if ident.startswith("_root_."):
            for _, j in self.by_suffix.get(ident[7:], ()):
                if c.premises[j].full_name == ident[7:] and j != self_idx and self.accessible(j, line):
                    return j
            return None
        ranks = self._ranks(ns, opens)
        parts = ident.split(".")
        for k in range(len(parts), 0, -1):
            name = ".".join(parts[:k]) if k < len(parts) else ident
            cands = self.by_suffix.get(name)
            if not cands:
                continue
            best, best_rank = None, 1 << 30
            for prefix, j in cands:
                rk = ranks.get(prefix)
                if rk is None or rk >= best_rank or j == self_idx:
                    continue
                if prefix and k == 1 and c.protected[j]:
                    continue  # `protected`: not reachable by its last component alone
                if not self.accessible(j, line):
                    continue
                best, best_rank = j, rk
            if best is not None:
                return best
        return None

    def resolve_body(self, self_idx: int, d: Declaration) -> list[int]:
        """Accessible corpus premises named by declaration ``d``'s body (``d`` is corpus premise ``self_idx``)."""
        return self.resolve_text(self_idx, d, d.body)

    def resolve_text(self, self_idx: int, d: Declaration, text: str) -> list[int]:
        """Accessible corpus premises named by ``text`` (masked), a part of declaration ``d``'s body."""
        ns = d.full_name.rsplit(".", 1)[0] if "." in d.full_name else ""
        if d.namespace and not (ns == d.namespace or ns.startswith(d.namespace + ".")):
            ns = d.namespace  # `_root_.X.y` declared in namespace N: N stays open too
            extra = (d.full_name.rsplit(".", 1)[0],) if "." in d.full_name else ()
        else:
            extra = ()
        opens = tuple(d.opens) + extra
        out: list[int] = []
        seen: set[int] = set()
        for ident in sorted(referenced_identifiers(text)):
            j = self.resolve(ident, ns, opens, d.line, self_idx)
            if j is not None and j not in seen:
                seen.add(j)
                out.append(j)
        return out
