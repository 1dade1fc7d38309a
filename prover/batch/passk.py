"""pass@k with the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

For one problem with ``n`` samples of which ``c`` are correct, pass@k = 1 - C(n-c, k) / C(n, k): the
probability that at least one of ``k`` samples drawn without replacement from the ``n`` is correct. It is
computed as the product ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, which stays exact-enough in floating point for
any ``n``. A benchmark's pass@k is the mean over the problems that have at least ``k`` samples.
"""

from __future__ import annotations

from collections.abc import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem (``0 <= c <= n``, ``1 <= k <= n``)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> tuple[float | None, int]:
    """Mean pass@k over problems given as ``(n, c)``; only problems with ``n >= k`` count.

    Returns ``(value, number of problems used)``; value is None when no problem has ``k`` samples."""
    vals = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    if not vals:
        return None, 0
    return sum(vals) / len(vals), len(vals)


def pass_at_k_curve(counts: Iterable[tuple[int, int]], max_k: int) -> dict[int, float | None]:
    """``{k: mean pass@k}`` for ``k = 1..max_k``."""
    counts = list(counts)
    return {k: mean_pass_at_k(counts, k)[0] for k in range(1, max_k + 1)}
