"""Variance hinge against a float64 numpy loop."""

import math

import numpy as np
import pytest
import torch

from e2mc_plugin.criteria.variance import variance_hinge


def numpy_loop_hinge(x: np.ndarray, target: float) -> float:
    n, d = x.shape
    total = 0.0
    for j in range(d):
        mu = sum(x[:, j]) / n
        var = sum((v - mu) ** 2 for v in x[:, j]) / (n - 1)
        total += max(0.0, target - math.sqrt(var + 1e-4))
    return total / d


@pytest.mark.parametrize("target", [1.0, 0.1])
def test_hinge_matches_numpy_loop(target):
    x = torch.randn(12, 6, dtype=torch.float64) * torch.linspace(0.01, 2, 6, dtype=torch.float64)
    assert float(variance_hinge(x, target)) == pytest.approx(
        numpy_loop_hinge(x.numpy(), target), rel=1e-12
    )


def test_collapsed_batch_gives_target_minus_sqrt_eps_and_finite_grad():
    x = torch.ones(8, 4, requires_grad=True)
    v = variance_hinge(x)
    v.backward()
    assert float(v.detach()) == pytest.approx(1.0 - 1e-2, rel=1e-6)
    assert bool(torch.isfinite(x.grad).all())


def test_gradcheck_float64():
    x = (torch.randn(7, 3, dtype=torch.float64) * 0.3).requires_grad_(True)
    assert torch.autograd.gradcheck(variance_hinge, (x,))


def test_single_row_raises():
    with pytest.raises(ValueError, match="at least 2 rows"):
        variance_hinge(torch.randn(1, 3))
