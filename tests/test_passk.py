"""The unbiased pass@k estimator."""

from __future__ import annotations

from math import comb

import pytest

from prover.batch.passk import mean_pass_at_k, pass_at_k, pass_at_k_curve


def test_known_values() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(3, 2, 2) == 1.0  # n - c < k


@pytest.mark.parametrize("n", [1, 2, 5, 16, 64])
def test_matches_the_binomial_formula(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            want = 1.0 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


def test_monotone_in_k_and_c() -> None:
    n = 32
    for c in range(n + 1):
        vals = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert vals == sorted(vals)
    for k in (1, 4, 16):
        vals = [pass_at_k(n, c, k) for c in range(n + 1)]
        assert vals == sorted(vals)


def test_large_n_is_stable() -> None:
    # comb(10000, 5000) overflows floats; the product form does not.
    assert 0.0 < pass_at_k(10_000, 3, 100) < 1.0
    assert pass_at_k(10_000, 3, 1) == pytest.approx(3 / 10_000)


def test_mean_over_problems_needs_k_samples() -> None:
    counts = [(4, 4), (4, 1), (4, 0), (2, 1)]
    v, used = mean_pass_at_k(counts, 1)
    assert used == 4 and v == pytest.approx((1 + 0.25 + 0 + 0.5) / 4)
    v, used = mean_pass_at_k(counts, 4)
    assert used == 3 and v == pytest.approx((1 + 1 + 0) / 3)
    assert mean_pass_at_k([], 1) == (None, 0)
    assert pass_at_k_curve(counts, 4)[2] == pytest.approx((1 + 0.5 + 0 + 1) / 4)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
