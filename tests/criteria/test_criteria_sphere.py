"""Rows onto the hypersphere without overflow: F.normalize's values, right where it overflows."""

import pytest
import torch
import torch.nn.functional as F

from e2mc_plugin.criteria.nuclear_norm import centroid
from e2mc_plugin.criteria.sphere import normalize_rows, prescale_rows


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ordinary_rows_are_bitwise_f_normalize(dtype):
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(64, 33, generator=gen, dtype=dtype)
    z = z * torch.logspace(-15, 15, 64, dtype=dtype).unsqueeze(1)  # tiny (eps-clamped) to large
    z[3] = 0.0
    assert torch.equal(normalize_rows(z), F.normalize(z, dim=1))
    moderate = torch.linalg.vector_norm(z, dim=1) <= 2.0**32  # rows left as they are
    assert 0 < int(moderate.sum()) < 64
    assert torch.equal(prescale_rows(z)[moderate], z[moderate])


@pytest.mark.parametrize(
    "dtype,scale",
    [
        (torch.float32, 2e19),
        (torch.float32, 1e30),
        (torch.float32, 3e38),
        (torch.float64, 1e155),
        (torch.float64, 1e300),
    ],
)
def test_rows_whose_norm_overflows_are_normalized_right(dtype, scale):
    """F.normalize returns 0 for these rows (its norm is inf); the float64 reference does not."""
    gen = torch.Generator().manual_seed(1)
    unit = F.normalize(torch.randn(8, 4096, generator=gen, dtype=torch.float64), dim=1)
    unit[:, 0] = unit[:, 0].sign()  # every row holds one entry of magnitude 1: |z| reaches `scale`
    z = (unit * scale).to(dtype)
    assert bool(torch.isinf(torch.linalg.vector_norm(z, dim=1)).all())  # the case at hand
    ref = F.normalize(z.double() / scale, dim=1)
    torch.testing.assert_close(normalize_rows(z).double(), ref, rtol=1e-6, atol=1e-7)


def test_gradient_through_an_overflowing_row_matches_float64():
    gen = torch.Generator().manual_seed(2)
    base = torch.randn(5, 16, generator=gen, dtype=torch.float64)
    w = torch.randn(5, 16, generator=gen, dtype=torch.float64)
    z = (base * 1e20).float().requires_grad_(True)
    (normalize_rows(z) * w.float()).sum().backward()
    ref = base.clone().requires_grad_(True)
    (F.normalize(ref, dim=1) * w).sum().backward()
    torch.testing.assert_close(z.grad.double() * 1e20, ref.grad, rtol=1e-5, atol=1e-6)


def test_nonfinite_rows_stay_nonfinite():
    z = torch.ones(3, 4)
    z[0, 1] = float("inf")
    z[1, 2] = float("nan")
    out = normalize_rows(z)
    assert not bool(torch.isfinite(out[0]).all()) and not bool(torch.isfinite(out[1]).all())
    assert torch.equal(out[2], F.normalize(z[2:], dim=1)[0])


def test_mixed_dtype_centroid_backward_returns_each_views_dtype():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(6, 5, generator=gen).requires_grad_(True)
    b = torch.randn(6, 5, generator=gen, dtype=torch.float64).requires_grad_(True)
    w = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    c = centroid([a, b])
    assert c.dtype == torch.float64
    (c * w).sum().backward()
    assert a.grad.dtype == torch.float32 and b.grad.dtype == torch.float64
    a64 = a.detach().double().requires_grad_(True)
    b64 = b.detach().clone().requires_grad_(True)
    ((F.normalize(a64, dim=1) + F.normalize(b64, dim=1)) / 2 * w).sum().backward()
    torch.testing.assert_close(a.grad, a64.grad.float())
    torch.testing.assert_close(b.grad, b64.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scale", [1e10, 1e19, 6e21, 1e30])
def test_centroid_gradient_of_large_rows_matches_float64(scale):
    """The fused centroid backward squares 1 / |z|: without the rescale it underflows float32
    once |z| passes ~1e19, even where the norm itself does not overflow (d = 1)."""
    gen = torch.Generator().manual_seed(4)
    for d in (1, 3):
        base = torch.randn(4, d, generator=gen, dtype=torch.float64)
        w = torch.randn(4, d, generator=gen, dtype=torch.float64)
        z = (base * scale).float().requires_grad_(True)
        (centroid([z]) * w.float()).sum().backward()
        ref = base.clone().requires_grad_(True)
        (F.normalize(ref, dim=1) * w).sum().backward()
        size = float(ref.grad.abs().max()) + 1.0 / float(base.norm(dim=1).min())
        assert float((z.grad.double() * scale - ref.grad).abs().max()) <= 1e-5 * size
