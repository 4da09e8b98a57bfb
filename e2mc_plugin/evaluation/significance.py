"""Paired significance tests for two models evaluated on the same examples (paper Table D.1).

Both tests take per-example outcomes of model A and model B on one evaluation set, in the same
order. Pure numpy / scipy; no torch.

- :func:`mcnemar`: McNemar's test on the discordant pairs. With ``b`` = #(A right, B wrong) and
  ``c`` = #(A wrong, B right), under H0 (equal error rates) ``b ~ Binomial(b + c, 1/2)``.
  Exact: two-sided binomial p-value ``min(1, 2 * P(X <= min(b, c)))``. Asymptotic (large
  ``b + c``): ``chi2 = (max(|b - c| - 1, 0))^2 / (b + c)`` with Edwards' continuity correction,
  1 degree of freedom.
- :func:`paired_permutation_test`: sign-flip test of the mean paired difference ``d_i = a_i - b_i``
  (for 0/1 correctness: the accuracy difference). Under H0 the sign of each ``d_i`` is a fair coin.
  Exact enumeration of all sign patterns of the non-zero differences when there are at most
  ``n_resamples`` of them, otherwise a Monte-Carlo estimate from a seeded generator with the
  ``(1 + hits) / (1 + n_resamples)`` correction (never 0, valid at level alpha).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "McNemarResult",
    "PermutationResult",
    "mcnemar",
    "paired_permutation_test",
    "compare_predictions",
]

# Below this many discordant pairs the chi-square approximation is poor: use the exact binomial.
EXACT_THRESHOLD = 25
# Exhaustive enumeration materializes 2**k sign patterns: cap k to keep memory bounded.
_MAX_EXACT_NONZERO = 20


@dataclass(frozen=True)
class McNemarResult:
    statistic: float  # exact: min(b, c); chi2: the continuity-corrected chi-square statistic
    pvalue: float
    b: int  # A correct, B wrong
    c: int  # A wrong, B correct
    method: str  # "exact" | "chi2"

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PermutationResult:
    statistic: float  # observed mean of a - b
    pvalue: float  # two-sided
    n_nonzero: int  # pairs with a != b (the only ones a sign flip changes)
    n_resamples: int  # sign patterns evaluated (2**n_nonzero when exact)
    method: str  # "exact" | "monte_carlo"

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _paired_bool(correct_a: ArrayLike, correct_b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(correct_a)
    b = np.asarray(correct_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"expected two 1-D arrays of equal length, got shapes {a.shape} and {b.shape}"
        )
    for name, x in (("correct_a", a), ("correct_b", b)):
        if x.dtype != bool and not np.isin(x, (0, 1)).all():
            raise ValueError(f"{name} must be boolean or 0/1 per-example correctness")
    return a.astype(bool), b.astype(bool)


def mcnemar(
    correct_a: ArrayLike, correct_b: ArrayLike, *, exact: Optional[bool] = None
) -> McNemarResult:
    """McNemar's test of equal accuracy for paired per-example correctness.

    Args:
        correct_a, correct_b: (n,) booleans (or 0/1), model A / B correct on example i.
        exact: True = exact binomial, False = chi-square with continuity correction, None = exact
            iff the number of discordant pairs ``b + c`` is below ``EXACT_THRESHOLD`` (25).
    """
    a, b_ = _paired_bool(correct_a, correct_b)
    b = int(np.count_nonzero(a & ~b_))
    c = int(np.count_nonzero(~a & b_))
    n = b + c
    if exact is None:
        exact = n < EXACT_THRESHOLD
    if n == 0:  # no discordant pair: no evidence either way
        return McNemarResult(0.0, 1.0, b, c, "exact" if exact else "chi2")
    if exact:
        k = min(b, c)
        p = min(1.0, 2.0 * float(stats.binom.cdf(k, n, 0.5)))
        return McNemarResult(float(k), p, b, c, "exact")
    stat = max(abs(b - c) - 1.0, 0.0) ** 2 / n
    return McNemarResult(float(stat), float(stats.chi2.sf(stat, df=1)), b, c, "chi2")


def _sign_patterns(k: int) -> np.ndarray:
    """All 2**k sign vectors in {-1, +1}^k as a (2**k, k) int8 array."""
    bits = (np.arange(2**k, dtype=np.int64)[:, None] >> np.arange(k, dtype=np.int64)) & 1
    return (1 - 2 * bits).astype(np.int8)


def paired_permutation_test(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    *,
    n_resamples: int = 10_000,
    seed: Optional[int] = 0,
    exact: Optional[bool] = None,
) -> PermutationResult:
    """Two-sided paired sign-flip permutation test of ``mean(scores_a - scores_b) == 0``.

    Args:
        scores_a, scores_b: (n,) paired per-example scores (0/1 correctness, losses, ...).
        n_resamples: Monte-Carlo sign patterns (ignored when exact).
        seed: seed of the ``numpy.random.Generator`` for the Monte-Carlo patterns.
        exact: True = enumerate all ``2**k`` patterns of the k non-zero differences (k <= 20),
            False = Monte Carlo, None = exact iff ``2**k <= n_resamples``.

    Pairs with ``a_i == b_i`` have difference 0 and are unchanged by a flip, so only the k
    non-zero differences are permuted; the statistic is still the mean over all n pairs.
    """
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"expected two non-empty 1-D arrays of equal length, got {a.shape}, {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite")
    d = a - b
    observed = float(d.mean())
    nz = d[d != 0]
    k = nz.size
    if k == 0:
        return PermutationResult(observed, 1.0, 0, 1, "exact")
    if exact is None:
        exact = k <= _MAX_EXACT_NONZERO and 2**k <= n_resamples
    # Compare |sums| with a relative tolerance: float rounding must not turn a tie into a miss.
    obs_abs = abs(float(nz.sum()))
    tol = 1e-9 * max(1.0, float(np.abs(nz).sum()))
    if exact:
        if k > _MAX_EXACT_NONZERO:
            raise ValueError(
                f"exact enumeration of 2**{k} sign patterns is too large; use exact=False"
            )
        sums = _sign_patterns(k).astype(np.float64) @ nz
        hits = int(np.count_nonzero(np.abs(sums) >= obs_abs - tol))
        return PermutationResult(observed, hits / 2**k, k, 2**k, "exact")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, min(n_resamples, 2**22 // max(k, 1)))  # bound memory to ~4M signs per chunk
    done = 0
    while done < n_resamples:
        m = min(chunk, n_resamples - done)
        signs = rng.integers(0, 2, size=(m, k), dtype=np.int8) * 2 - 1
        sums = signs.astype(np.float64) @ nz
        hits += int(np.count_nonzero(np.abs(sums) >= obs_abs - tol))
        done += m
    return PermutationResult(
        observed, (1 + hits) / (1 + n_resamples), k, n_resamples, "monte_carlo"
    )


def compare_predictions(
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    n_resamples: int = 10_000,
    seed: Optional[int] = 0,
) -> Dict[str, Any]:
    """Both tests for two classifiers' predicted labels on the same evaluation set.

    Returns ``{"n", "acc_a", "acc_b", "mcnemar": {...}, "permutation": {...}}``.
    """
    y = np.asarray(y_true)
    pa = np.asarray(pred_a)
    pb = np.asarray(pred_b)
    if not (y.shape == pa.shape == pb.shape) or y.ndim != 1:
        raise ValueError(
            f"expected three 1-D arrays of equal length, got {y.shape}, {pa.shape}, {pb.shape}"
        )
    ca, cb = pa == y, pb == y
    return {
        "n": int(y.size),
        "acc_a": float(ca.mean()),
        "acc_b": float(cb.mean()),
        "mcnemar": mcnemar(ca, cb).as_dict(),
        "permutation": paired_permutation_test(
            ca.astype(np.float64), cb.astype(np.float64), n_resamples=n_resamples, seed=seed
        ).as_dict(),
    }
