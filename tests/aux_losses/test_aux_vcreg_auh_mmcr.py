"""VCReg, AUH and MMCR modules against independent float64 numpy computations."""

import math

import numpy as np
import pytest
import torch

from e2mc_plugin.aux_losses import build_aux_loss


def _normalize(z):
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def numpy_vcreg(views, mu, nu, space):
    var_terms, cov_terms = [], []
    for z in views:
        d = z.shape[1]
        target = 1.0
        if space == "hypersphere":
            z, target = _normalize(z), 1.0 / math.sqrt(d)
        std = np.sqrt(z.var(axis=0, ddof=1) + 1e-4)
        var_terms.append(np.mean(np.maximum(0.0, target - std)))
        c = np.cov(z, rowvar=False)
        cov_terms.append((np.sum(c**2) - np.sum(np.diag(c) ** 2)) / d)
    var, cov = np.mean(var_terms), np.sum(cov_terms)
    return mu * var + nu * cov, var, cov


@pytest.mark.parametrize("space", ["hypersphere", "projector"])
@pytest.mark.parametrize("n,d", [(30, 8), (8, 30)])
def test_vcreg_matches_numpy(space, n, d):
    views = [torch.randn(n, d, dtype=torch.float64) * 0.5 for _ in range(2)]
    out = build_aux_loss("vcreg", mu=0.1, nu=0.001, space=space)(views)
    loss, var, cov = numpy_vcreg([v.numpy() for v in views], 0.1, 0.001, space)
    assert set(out) == {"loss", "variance", "covariance"}
    assert float(out["loss"]) == pytest.approx(loss, rel=1e-10)
    assert float(out["variance"]) == pytest.approx(var, rel=1e-10)
    assert float(out["covariance"]) == pytest.approx(cov, rel=1e-10)


def test_vcreg_defaults_are_paper_values_and_reference_space():
    loss = build_aux_loss("vcreg")
    assert (loss.mu, loss.nu, loss.space) == (0.1, 0.001, "hypersphere")
    with pytest.raises(ValueError, match="space must be one of"):
        build_aux_loss("vcreg", space="sphere")


def numpy_uniformity(z, t):
    z = _normalize(z)
    n = len(z)
    vals = [np.exp(-t * np.sum((z[p] - z[q]) ** 2)) for p in range(n) for q in range(p + 1, n)]
    return math.log(np.mean(vals))


def test_auh_matches_numpy_with_and_without_alignment():
    views = [torch.randn(12, 6, dtype=torch.float64) for _ in range(3)]
    npv = [v.numpy() for v in views]
    unif = np.mean([numpy_uniformity(z, 2.0) for z in npv])
    out = build_aux_loss("auh")(views)
    assert set(out) == {"loss", "uniformity"}
    assert float(out["uniformity"]) == pytest.approx(unif, rel=1e-10)
    assert float(out["loss"]) == pytest.approx(0.5 * unif, rel=1e-10)
    nz = [_normalize(z) for z in npv]
    align = np.mean(
        [np.mean(np.sum((nz[a] - nz[b]) ** 2, axis=1)) for a in range(3) for b in range(a + 1, 3)]
    )
    out = build_aux_loss("auh", weight=1.0, t=3.0, alignment_weight=0.2)(views)
    unif3 = np.mean([numpy_uniformity(z, 3.0) for z in npv])
    assert float(out["alignment"]) == pytest.approx(align, rel=1e-10)
    assert float(out["loss"]) == pytest.approx(unif3 + 0.2 * align, rel=1e-10)


def test_auh_options_validated():
    with pytest.raises(ValueError, match="t must be > 0"):
        build_aux_loss("auh", t=0.0)
    with pytest.raises(ValueError, match="at least 2 views"):
        build_aux_loss("auh", alignment_weight=1.0)([torch.randn(8, 3)])


def test_mmcr_matches_numpy_on_eight_views():
    views = [torch.randn(16, 10, dtype=torch.float64) for _ in range(8)]
    c = np.mean([_normalize(v.numpy()) for v in views], axis=0)
    nuc = np.linalg.svd(c, compute_uv=False).sum()
    out = build_aux_loss("mmcr")(views)
    assert set(out) == {"loss", "nuclear_norm"}
    assert float(out["nuclear_norm"]) == pytest.approx(nuc, rel=1e-10)
    assert float(out["loss"]) == pytest.approx(-0.005 * nuc, rel=1e-10)


@pytest.mark.parametrize("name", ["vcreg", "auh", "mmcr"])
def test_gradcheck_float64(name):
    a = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    kwargs = {"alignment_weight": 0.3} if name == "auh" else {}
    loss = build_aux_loss(name, **kwargs)
    assert torch.autograd.gradcheck(lambda x, y: loss([x, y])["loss"], (a, b))


HYPERSPHERE = [
    ("auh", {"alignment_weight": 0.3}),
    ("mmcr", {}),
    ("vcreg", {"space": "hypersphere", "nu": 1.0}),
]


@pytest.mark.parametrize("name,kwargs", HYPERSPHERE, ids=[n for n, _ in HYPERSPHERE])
@pytest.mark.parametrize("scale", [1e20, 1e30])
def test_hypersphere_losses_at_huge_float32_magnitudes_match_float64(name, kwargs, scale):
    """These losses are scale invariant: float32 views of |z| ~ 1e20 give the float64 loss of the
    unscaled views, and the gradient scaled back by |z| (F.normalize's overflow gave a constant
    loss and a zero gradient)."""
    gen = torch.Generator().manual_seed(4)
    base = [torch.randn(16, 8, generator=gen, dtype=torch.float64) for _ in range(2)]
    ref_views = [b.clone().requires_grad_(True) for b in base]
    ref = build_aux_loss(name, **kwargs)(ref_views)
    ref["loss"].backward()
    views = [(b * scale).float().requires_grad_(True) for b in base]
    out = build_aux_loss(name, check_finite=True, **kwargs)(views)
    out["loss"].backward()
    for key in ref:
        assert float(out[key]) == pytest.approx(float(ref[key]), rel=1e-5, abs=1e-7), key
    for v, r in zip(views, ref_views, strict=True):
        torch.testing.assert_close(v.grad.double() * scale, r.grad, rtol=1e-4, atol=1e-6)


def test_mmcr_with_a_float32_and_a_float64_view_is_computed_in_float64():
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(12, 6, generator=gen).requires_grad_(True)
    b = torch.randn(12, 6, generator=gen, dtype=torch.float64).requires_grad_(True)
    out = build_aux_loss("mmcr")([a, b])
    out["loss"].backward()
    c = np.mean([_normalize(a.detach().double().numpy()), _normalize(b.detach().numpy())], axis=0)
    nuc = np.linalg.svd(c, compute_uv=False).sum()
    assert out["nuclear_norm"].dtype == torch.float64
    assert float(out["nuclear_norm"]) == pytest.approx(nuc, rel=1e-10)
    assert a.grad.dtype == torch.float32 and b.grad.dtype == torch.float64
    a64 = a.detach().double().requires_grad_(True)
    b64 = b.detach().clone().requires_grad_(True)
    build_aux_loss("mmcr")([a64, b64])["loss"].backward()
    torch.testing.assert_close(a.grad, a64.grad.float())
    torch.testing.assert_close(b.grad, b64.grad)
