"""Off-diagonal covariance penalty: numpy loops, Gram vs d x d paths, path choice, gradients."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2mc_plugin.criteria import covariance as cov_mod
from e2mc_plugin.criteria.covariance import covariance_penalty


def numpy_loop_penalty(x: np.ndarray) -> float:
    n, d = x.shape
    mean = [sum(x[i, j] for i in range(n)) / n for j in range(d)]
    total = 0.0
    for j in range(d):
        for k in range(d):
            if j != k:
                c = sum((x[i, j] - mean[j]) * (x[i, k] - mean[k]) for i in range(n)) / (n - 1)
                total += c * c
    return total / d


@pytest.mark.parametrize("method", ["auto", "gram", "dxd"])
@pytest.mark.parametrize("n,d", [(5, 9), (9, 5), (6, 6), (2, 3)])
def test_penalty_matches_float64_numpy_loops(method, n, d):
    x = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(n * d))
    got = float(covariance_penalty(x, method=method))
    assert got == pytest.approx(numpy_loop_penalty(x.numpy()), rel=1e-10)


@pytest.mark.parametrize("n,d", [(16, 300), (300, 16), (64, 64)])
def test_gram_and_dxd_paths_agree_in_float32(n, d):
    torch.manual_seed(0)
    x = torch.sigmoid(torch.randn(n, d) @ torch.randn(d, d) / d**0.5)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    a = covariance_penalty(x1, method="gram")
    b = covariance_penalty(x2, method="dxd")
    a.backward()
    b.backward()
    assert float(a.detach()) == pytest.approx(float(b.detach()), rel=1e-5)
    scale = float(x2.grad.abs().max())
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-4, atol=1e-5 * scale)


def test_auto_never_builds_d_by_d_when_batch_is_smaller(monkeypatch):
    def forbidden(xc):
        raise AssertionError("d x d covariance built although n < d")

    monkeypatch.setattr(cov_mod, "_offdiag_sq_sum_dxd", forbidden)
    covariance_penalty(torch.randn(8, 20))
    with pytest.raises(AssertionError):
        covariance_penalty(torch.randn(20, 8))


@pytest.mark.parametrize("method", ["gram", "dxd"])
def test_gradcheck_float64(method):
    x = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: covariance_penalty(t, method=method), (x,))


def test_decorrelated_columns_give_zero_and_shift_invariance():
    # Orthogonal centered columns have zero covariance; adding a constant changes nothing.
    h = torch.eye(16, dtype=torch.float64) - 1.0 / 16
    cols = h @ torch.randn(16, 4, dtype=torch.float64)
    ortho, _ = torch.linalg.qr(cols)
    assert float(covariance_penalty(ortho)) == pytest.approx(0.0, abs=1e-20)
    y = torch.randn(10, 7, dtype=torch.float64)
    assert float(covariance_penalty(y + 3.0)) == pytest.approx(float(covariance_penalty(y)))


def test_errors():
    with pytest.raises(ValueError, match="at least 2 rows"):
        covariance_penalty(torch.randn(1, 5))
    with pytest.raises(ValueError, match="unknown covariance method"):
        covariance_penalty(torch.randn(4, 5), method="fast")
    with pytest.raises(ValueError, match="2-D"):
        covariance_penalty(torch.randn(4))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 6),
    st.integers(1, 9),
    st.sampled_from([0.0, 1.0, 1e-20, 1e8]),
    st.booleans(),
)
def test_ties_constant_columns_and_huge_magnitudes_are_finite(n, d, scale, constant):
    # 1e8 is about the largest scale whose penalty (~ x^4) is representable in float32.
    x = torch.randint(-2, 3, (n, d)).float() * scale
    if constant:
        x[:, 0] = 7.0
    x.requires_grad_(True)
    for method in ("gram", "dxd"):
        x.grad = None
        c = covariance_penalty(x, method=method)
        c.backward()
        assert bool(torch.isfinite(c)) and float(c.detach()) >= 0
        assert bool(torch.isfinite(x.grad).all())
