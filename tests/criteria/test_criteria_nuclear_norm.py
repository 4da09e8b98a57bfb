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


# ---- nuclear_norm through the smaller Gram's eigendecomposition --------------------------------

from e2mc_plugin.criteria.nuclear_norm import nuclear_norm  # noqa: E402


def svd_uvt(c: torch.Tensor) -> torch.Tensor:
    """Independent gradient of ||C||_* for a full-rank C: U V^T from the thin SVD."""
    u, _, vh = torch.linalg.svd(c, full_matrices=False)
    return u @ vh


def grad_of(c: torch.Tensor) -> torch.Tensor:
    c = c.clone().requires_grad_(True)
    nuclear_norm(c).backward()
    return c.grad


@pytest.mark.parametrize("n,d", [(12, 30), (30, 12), (16, 16)])
def test_value_and_gradient_equal_the_svd(n, d):
    c = torch.randn(n, d, dtype=torch.float64)
    assert float(nuclear_norm(c)) == pytest.approx(
        float(torch.linalg.svdvals(c).sum()), rel=1e-12, abs=1e-10
    )
    assert torch.allclose(grad_of(c), svd_uvt(c), atol=1e-10)
    x = c[: max(3, n // 3), : max(3, d // 3)].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(nuclear_norm, (x,))


@pytest.mark.parametrize("n,d", [(10, 24), (24, 10)])
def test_rank_deficient_inputs_give_exact_values_and_finite_subgradients(n, d):
    base = torch.randn(n, d, dtype=torch.float64)
    dup = base.clone()
    dup[1] = dup[0]  # duplicate rows
    zero = base.clone()
    zero[3:6] = 0.0  # zero rows
    for c in (dup, zero, torch.zeros(n, d, dtype=torch.float64)):
        ref = torch.linalg.svdvals(c).sum()
        assert abs(float(nuclear_norm(c)) - float(ref)) <= 1e-10
        g = grad_of(c)
        assert bool(torch.isfinite(g).all())
        # Subgradient U_r V_r^T: ||g||_F^2 = rank, and <g, C> = ||C||_*.
        rank = int(torch.linalg.matrix_rank(c))
        assert float(g.square().sum()) == pytest.approx(rank, abs=1e-8)
        assert float((g * c).sum()) == pytest.approx(float(ref), abs=1e-9)
    # zero rows get zero gradient (their rows leave the singular values unchanged)
    assert float(grad_of(zero)[3:6].abs().max()) <= 1e-12


def test_repeated_singular_values_are_safe():
    q, _ = torch.linalg.qr(torch.randn(20, 20, dtype=torch.float64))
    c = 3.0 * q[:8]  # 8 singular values, all equal to 3
    assert float(nuclear_norm(c)) == pytest.approx(24.0, rel=1e-12)
    g = grad_of(c)
    assert torch.allclose(g, c / 3.0, atol=1e-12)  # U V^T of 3 Q is Q
    # svdvals' autograd is not defined for repeated values; ours is the exact subgradient.


def test_bf16_autocast_input_is_computed_in_float32():
    c = torch.randn(16, 40)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = (c @ torch.eye(40)).requires_grad_(True)  # a bf16 tensor from an autocast op
        assert x.dtype == torch.bfloat16
        out = nuclear_norm(x)
    assert out.dtype == torch.float32
    ref = torch.linalg.svdvals(x.detach().double()).sum()
    assert float(out.detach()) == pytest.approx(float(ref), rel=1e-6)
    out.backward()
    assert x.grad.dtype == torch.bfloat16 and bool(torch.isfinite(x.grad).all())


def test_float32_value_matches_svdvals_at_a_realistic_size():
    views = [torch.randn(128, 512) for _ in range(4)]
    c = centroid(views)
    ref = torch.linalg.svdvals(c.double()).sum()
    assert float(centroid_nuclear_norm(views)) == pytest.approx(float(ref), rel=1e-6)


def test_centroid_gradient_equals_autograd_through_normalize():
    """The centroid's written-out backward equals autograd through ``F.normalize`` + mean
    (float64 gradcheck, and a zero row, where normalize divides by eps instead of the norm)."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(3)
    views = [torch.randn(6, 5, generator=gen, dtype=torch.float64) for _ in range(3)]
    assert torch.autograd.gradcheck(
        lambda *z: centroid(list(z)), tuple(v.clone().requires_grad_(True) for v in views)
    )
    views[1][2] = 0.0
    ours = [v.clone().requires_grad_(True) for v in views]
    ref = [v.clone().requires_grad_(True) for v in views]
    g = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    (centroid(ours) * g).sum().backward()
    (torch.stack([F.normalize(z, dim=1) for z in ref]).mean(0) * g).sum().backward()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0.0)
