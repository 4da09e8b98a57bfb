"""Uniformity potential: numpy loops, pdist agreement, duplicate rows, gradients."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from e2mc_plugin.criteria.uniformity import alignment, uniformity


def numpy_loop_uniformity(z: np.ndarray, t: float) -> float:
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = z.shape[0]
    vals = [
        math.exp(-t * float(np.sum((z[p] - z[q]) ** 2))) for p in range(n) for q in range(p + 1, n)
    ]
    return math.log(sum(vals) / len(vals))


@pytest.mark.parametrize("t", [2.0, 3.0])
def test_matches_numpy_loops(t):
    z = torch.randn(9, 5, dtype=torch.float64)
    assert float(uniformity(z, t=t)) == pytest.approx(
        numpy_loop_uniformity(z.numpy(), t), rel=1e-10
    )


def test_matches_reference_pdist_form_on_distinct_rows():
    z = F.normalize(torch.randn(32, 16), dim=1)
    ref = F.pdist(z, p=2).pow(2).mul(-2.0).exp().mean().log()
    assert float(uniformity(z)) == pytest.approx(float(ref), rel=1e-5)


def test_duplicate_rows_have_finite_gradient():
    z = torch.randn(6, 4)
    z[3] = z[1]
    z[5] = z[1]
    z.requires_grad_(True)
    uniformity(z).backward()
    assert bool(torch.isfinite(z.grad).all())


def test_all_identical_rows_give_zero():
    z = torch.ones(5, 3)
    assert float(uniformity(z)) == pytest.approx(0.0, abs=1e-6)


def test_high_dimensional_gaussian_is_near_minus_2t():
    z = torch.randn(256, 512, dtype=torch.float64)
    assert float(uniformity(z, t=2.0)) == pytest.approx(-4.0, abs=0.05)


def test_gradcheck_float64():
    z = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: uniformity(x, t=2.0), (z,))


def test_alignment_matches_definition():
    a, b = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 4, dtype=torch.float64)
    an, bn = F.normalize(a, dim=1), F.normalize(b, dim=1)
    ref = ((an - bn) ** 2).sum(1).mean()
    assert float(alignment(a, b)) == pytest.approx(float(ref), rel=1e-12)
    assert float(alignment(a, b, alpha=1.0)) == pytest.approx(
        float((an - bn).norm(dim=1).mean()), rel=1e-12
    )


def test_single_row_raises():
    with pytest.raises(ValueError, match="at least 2 rows"):
        uniformity(torch.randn(1, 3))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.sampled_from([1e-30, 1.0, 1e30]), st.booleans())
def test_ties_and_huge_magnitudes_are_finite(n, scale, ties):
    z = torch.randint(-1, 2, (n, 3)).float() * scale
    if ties:
        z[1:] = z[0]
    z.requires_grad_(True)
    u = uniformity(z)
    u.backward()
    assert bool(torch.isfinite(u)) and bool(torch.isfinite(z.grad).all())
