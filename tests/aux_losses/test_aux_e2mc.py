"""E2MC module against an independent float64 numpy computation of the whole loss."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from e2mc_plugin.aux_losses import build_aux_loss

NP_MAPS = {"sigmoid": special.expit, "gaussian_cdf": stats.norm.cdf, "identity": lambda z: z}


def numpy_e2mc(views, beta, gamma, mapping, reduction, eps=1e-7, m=None):
    ents, covs = [], []
    for z in views:
        x = NP_MAPS[mapping](z)
        n, d = x.shape
        mm = int(round(math.sqrt(n))) if m is None else m
        s = np.sort(x, axis=0)
        h = [
            np.mean(
                [math.log((n + 1) / mm * (s[i + mm, j] - s[i, j]) + eps) for i in range(n - mm)]
            )
            for j in range(d)
        ]
        ents.append(np.mean(h))
        c = np.cov(x, rowvar=False, ddof=1)
        covs.append((np.sum(c**2) - np.sum(np.diag(c) ** 2)) / d)
    ent = np.mean(ents) if reduction == "reference" else np.sum(ents)
    cov = np.sum(covs)
    return -beta * ent + gamma * cov, ent, cov


@pytest.mark.parametrize("mapping", ["sigmoid", "gaussian_cdf"])
@pytest.mark.parametrize("reduction", ["reference", "paper"])
@pytest.mark.parametrize("n,d", [(40, 6), (12, 30)])
def test_matches_numpy_float64(mapping, reduction, n, d):
    gen = torch.Generator().manual_seed(n + d)
    views = [torch.randn(n, d, generator=gen, dtype=torch.float64) for _ in range(2)]
    out = build_aux_loss("e2mc", beta=10.0, gamma=3.0, mapping=mapping, reduction=reduction)(views)
    loss, ent, cov = numpy_e2mc([v.numpy() for v in views], 10.0, 3.0, mapping, reduction)
    assert set(out) == {"loss", "entropy", "covariance"}
    assert float(out["loss"]) == pytest.approx(loss, rel=1e-10)
    assert float(out["entropy"]) == pytest.approx(ent, rel=1e-10)
    assert float(out["covariance"]) == pytest.approx(cov, rel=1e-10)


def test_identity_mapping_with_custom_window_and_eps():
    views = [torch.rand(30, 5, dtype=torch.float64) for _ in range(2)]
    out = build_aux_loss("e2mc", beta=1.0, gamma=0.0, mapping="identity", m=3, eps=1e-3)(views)
    _, ent, _ = numpy_e2mc([v.numpy() for v in views], 1, 0, "identity", "reference", 1e-3, 3)
    assert float(out["entropy"]) == pytest.approx(ent, rel=1e-10)


def test_paper_reduction_doubles_the_entropy_term_for_two_views():
    views = [torch.randn(32, 8) for _ in range(2)]
    ref = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid")(views)
    paper = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", reduction="paper")(views)
    assert torch.allclose(paper["entropy"], 2 * ref["entropy"])
    assert torch.equal(paper["covariance"], ref["covariance"])


def test_center_has_no_effect_on_value():
    views = [torch.randn(32, 8, dtype=torch.float64) for _ in range(2)]
    a = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", center=True)(views)
    b = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", center=False)(views)
    assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-12)


def test_maximizing_entropy_spreads_a_collapsed_embedding():
    # The sign convention: loss is ADDED to the SSL loss, so descending it raises the entropy.
    torch.manual_seed(0)
    z = (0.01 * torch.randn(64, 4)).requires_grad_(True)
    loss_fn = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid")
    before = float(loss_fn([z, z])["entropy"].detach())
    opt = torch.optim.SGD([z], lr=0.05)
    for _ in range(20):
        opt.zero_grad()
        loss_fn([z, z])["loss"].backward()
        opt.step()
    assert float(loss_fn([z, z])["entropy"].detach()) > before + 1.0


def test_gradcheck_float64():
    a = torch.randn(20, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(20, 5, dtype=torch.float64, requires_grad=True)
    loss = build_aux_loss("e2mc", beta=2.0, gamma=5.0, mapping="gaussian_cdf")
    assert torch.autograd.gradcheck(lambda x, y: loss([x, y])["loss"], (a, b))


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="e2mc: mapping must be one of .*'sigmoid', got 'tanh'"):
        build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="tanh")
    with pytest.raises(ValueError, match="reduction must be one of"):
        build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", reduction="sum")
    with pytest.raises(ValueError, match="e2mc: m must be an integer >= 1, got 0"):
        build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", m=0)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(3, 10),
    st.sampled_from([1.0, 1e-30, 1e30]),
    st.booleans(),
    st.sampled_from(["sigmoid", "gaussian_cdf"]),
)
def test_ties_constant_columns_and_huge_magnitudes_give_finite_loss_and_grads(
    n, scale, constant, mapping
):
    z = torch.randint(-2, 3, (n, 4)).float() * scale
    if constant:
        z[:, 1] = 5.0
    z.requires_grad_(True)
    out = build_aux_loss("e2mc", beta=1000.0, gamma=100.0, mapping=mapping)([z, z.flip(0)])
    out["loss"].backward()
    assert all(bool(torch.isfinite(v)) for v in out.values())
    assert bool(torch.isfinite(z.grad).all())


def _e2mc_grad(z: torch.Tensor) -> torch.Tensor:
    """Gradients of both views (separate leaves: one cast each, no fp16 accumulation)."""
    views = [z.clone().requires_grad_(True), z.flip(0).requires_grad_(True)]
    loss = build_aux_loss("e2mc", beta=1000.0, gamma=100.0, mapping="sigmoid")
    loss(views)["loss"].backward()
    return torch.cat([v.grad for v in views], dim=1)


def test_fp16_input_with_a_collapsed_unit_gets_a_finite_fp16_gradient():
    z = torch.randn(128, 64).half()
    z[:, 5] = 0.25  # one collapsed projector unit: all its spacings are 0
    g = _e2mc_grad(z)
    assert g.dtype == torch.float16
    assert bool(torch.isfinite(g).all())
    # the collapsed unit is still pushed apart (the gradient keeps its direction)
    assert float(g[:, 5].float().abs().max()) > 1.0
    # the same input in float32 gets the exact, unbounded gradient (beyond fp16's 65504)
    assert float(_e2mc_grad(z.float())[:, 5].abs().max()) > 65504


def test_fp16_values_and_untied_gradients_equal_the_float32_computation():
    # distinct values 1/16 apart per column (exact in fp16): every spacing is far above 2^-10
    z = torch.stack([(torch.randperm(128) - 64) / 16.0 for _ in range(64)], dim=1).half()
    loss = build_aux_loss("e2mc", beta=1000.0, gamma=100.0, mapping="sigmoid")
    out16, out32 = loss([z, z.flip(0)]), loss([z.float(), z.float().flip(0)])
    for key in out32:
        assert torch.equal(out16[key], out32[key]), key
    assert torch.equal(_e2mc_grad(z), _e2mc_grad(z.float()).half())
