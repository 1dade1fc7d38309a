"""Errors that reach the user as one line: bad input, bad config, missing files; and `closest`, the one
suggester of what a mistyped name meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Something the user can fix (unknown theorem, malformed file, bad config). The CLI exits 2."""


def _distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``cap`` when it is at least that."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) >= cap:
            return cap
        prev = cur
    return min(prev[-1], cap)


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` the user probably meant by ``word``, best first: the fewest typed characters
    away (case ignored: ``mathd_algebra_1O`` → ``mathd_algebra_10``), then the most similar."""
    w = word.lower()
    cap = max(2, len(word) // 3)
    scored = []
    for c in set(choices):
        d = _distance(w, c.lower(), cap + 1)
        ratio = difflib.SequenceMatcher(None, w, c.lower()).ratio()
        if d <= cap or ratio >= 0.75:
            scored.append((d, -ratio, c))
    return [c for _, _, c in sorted(scored)[:n]]
