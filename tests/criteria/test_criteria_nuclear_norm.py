"""Nuclear norm of the view centroid: numpy SVD, non-finite rows dropped, gradients, precision."""

import numpy as np
import pytest
import torch

from e2mc_plugin.criteria.nuclear_norm import centroid, centroid_nuclear_norm


def numpy_reference(views) -> float:
    normed = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in views]
    c = sum(normed) / len(normed)
    c = c[np.isfinite(c).all(axis=1)]
    return float(np.linalg.svd(c, compute_uv=False).sum())


def test_matches_numpy_svd_for_eight_views():
    views = [torch.randn(20, 12, dtype=torch.float64) for _ in range(8)]
    got = float(centroid_nuclear_norm(views))
    assert got == pytest.approx(numpy_reference([v.numpy() for v in views]), rel=1e-10)


def test_centroid_is_not_renormalized():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 2.0]])
    assert torch.allclose(centroid([a, b]), torch.tensor([[0.5, 0.5]]))


def test_non_finite_rows_are_dropped_like_the_reference():
    views = [torch.randn(10, 6, dtype=torch.float64) for _ in range(3)]
    views[1][4, 2] = float("nan")
    views[2][7, 0] = float("inf")
    got = float(centroid_nuclear_norm(views))
    keep = [i for i in range(10) if i not in (4, 7)]
    assert got == pytest.approx(float(centroid_nuclear_norm([v[keep] for v in views])), rel=1e-12)
    assert np.isfinite(got)


def test_half_precision_input_is_computed_in_float32():
    views = [torch.randn(16, 8).to(torch.float16) for _ in range(2)]
    out = centroid_nuclear_norm(views)
    assert out.dtype == torch.float32
    ref = centroid_nuclear_norm([v.float() for v in views])
    assert torch.equal(out, ref)


def test_gradcheck_float64():
    a = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: centroid_nuclear_norm([x, y]), (a, b))
