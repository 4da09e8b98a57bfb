"""Paired tests (McNemar, sign-flip permutation) against independent references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from e2mc_plugin.evaluation.significance import (
    compare_predictions,
    mcnemar,
    paired_permutation_test,
)


def _pairs(b: int, c: int, both_right: int = 5, both_wrong: int = 3):
    """Correctness vectors with b (A right, B wrong) and c (A wrong, B right) discordant pairs."""
    a = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    bb = [0] * b + [1] * c + [1] * both_right + [0] * both_wrong
    return np.array(a, bool), np.array(bb, bool)


@pytest.mark.parametrize("b,c", [(0, 1), (1, 0), (3, 9), (9, 3), (7, 7), (0, 12), (10, 14)])
def test_significance_mcnemar_exact_matches_scipy_binomtest(b, c):
    a, bb = _pairs(b, c)
    res = mcnemar(a, bb, exact=True)
    ref = stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert (res.b, res.c, res.method) == (b, c, "exact")
    assert res.pvalue == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert res.statistic == min(b, c)


@pytest.mark.parametrize("b,c", [(30, 10), (10, 30), (25, 25), (26, 25), (100, 60)])
def test_significance_mcnemar_chi2_closed_form(b, c):
    a, bb = _pairs(b, c)
    res = mcnemar(a, bb, exact=False)
    stat = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    # chi2 with 1 dof: sf(x) = erfc(sqrt(x / 2)); independent of scipy.stats.chi2
    assert res.method == "chi2"
    assert res.statistic == pytest.approx(stat, rel=1e-12)
    assert res.pvalue == pytest.approx(math.erfc(math.sqrt(stat / 2)), rel=1e-10)


def test_significance_mcnemar_auto_switches_on_discordant_count():
    assert mcnemar(*_pairs(10, 14)).method == "exact"  # 24 < 25
    assert mcnemar(*_pairs(10, 15)).method == "chi2"  # 25


@pytest.mark.parametrize("exact", [True, False])
def test_significance_symmetric_cases_have_p_one(exact):
    a, bb = _pairs(6, 6)
    assert mcnemar(a, bb, exact=exact).pvalue == 1.0
    assert paired_permutation_test(a, bb, exact=exact, n_resamples=500).pvalue == pytest.approx(1.0)
    same = np.array([1, 0, 1, 1, 0], bool)
    assert mcnemar(same, same, exact=exact).pvalue == 1.0
    assert paired_permutation_test(same, same, exact=exact).pvalue == 1.0


def test_significance_mcnemar_is_symmetric_in_models():
    a, bb = _pairs(4, 13)
    assert mcnemar(a, bb).pvalue == mcnemar(bb, a).pvalue


def _exhaustive_sign_flip(d: np.ndarray) -> float:
    """Reference: enumerate all 2**n sign patterns over ALL pairs (zeros included)."""
    obs = abs(d.mean())
    hits = 0
    total = 0
    for signs in itertools.product((1.0, -1.0), repeat=d.size):
        hits += abs((np.array(signs) * d).mean()) >= obs - 1e-12
        total += 1
    return hits / total


@pytest.mark.parametrize("seed", range(6))
def test_significance_permutation_exact_matches_exhaustive_enumeration(seed):
    rng = np.random.default_rng(seed)
    n = 11
    a = rng.integers(0, 2, n)
    b = rng.integers(0, 2, n)
    res = paired_permutation_test(a, b, exact=True)
    assert res.method == "exact"
    assert res.pvalue == pytest.approx(_exhaustive_sign_flip(a - b.astype(float)), abs=1e-12)
    assert res.statistic == pytest.approx((a - b).mean())


def test_significance_permutation_exact_on_real_valued_scores():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=9), rng.normal(size=9)
    res = paired_permutation_test(a, b, exact=True)
    assert res.pvalue == pytest.approx(_exhaustive_sign_flip(a - b), abs=1e-12)


def test_significance_permutation_monte_carlo_close_to_exact_and_seeded():
    a, bb = _pairs(14, 4)  # 18 discordant pairs
    exact = paired_permutation_test(a, bb, exact=True).pvalue
    mc1 = paired_permutation_test(a, bb, exact=False, n_resamples=20_000, seed=1)
    mc2 = paired_permutation_test(a, bb, exact=False, n_resamples=20_000, seed=1)
    assert mc1 == mc2  # same seed, same answer
    assert mc1.method == "monte_carlo" and mc1.pvalue > 0
    assert mc1.pvalue == pytest.approx(
        exact, abs=4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4
    )


def test_significance_permutation_on_correctness_equals_exact_mcnemar():
    # For 0/1 correctness the sign-flip null of the sum is 2 * Binomial(b + c, 1/2) - (b + c):
    # the exact permutation p-value is the exact McNemar p-value.
    for b, c in [(3, 9), (0, 5), (8, 8), (12, 2)]:
        a, bb = _pairs(b, c)
        assert paired_permutation_test(a, bb, exact=True).pvalue == pytest.approx(
            mcnemar(a, bb, exact=True).pvalue, abs=1e-12
        )


def test_significance_rejects_bad_input():
    with pytest.raises(ValueError):
        mcnemar([1, 0, 1], [1, 0])
    with pytest.raises(ValueError):
        mcnemar([1, 2, 0], [1, 0, 0])
    with pytest.raises(ValueError):
        paired_permutation_test([1.0, np.nan], [0.0, 1.0])
    with pytest.raises(ValueError):
        paired_permutation_test(np.ones(30), np.zeros(30), exact=True, n_resamples=10)


def test_significance_compare_predictions_reports_both_tests():
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
    pa = y.copy()
    pb = y.copy()
    pb[:8] = (pb[:8] + 1) % 10  # B wrong on 8 examples A gets right
    out = compare_predictions(y, pa, pb, seed=0)
    assert out["n"] == 30 and out["acc_a"] == 1.0 and out["acc_b"] == pytest.approx(22 / 30)
    assert out["mcnemar"]["b"] == 8 and out["mcnemar"]["c"] == 0
    assert out["mcnemar"]["pvalue"] == pytest.approx(2 * 0.5**8)
    assert out["permutation"]["pvalue"] == pytest.approx(2 * 0.5**8)
