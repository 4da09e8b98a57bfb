"""Property tests of the criteria's inputs: row normalization at every magnitude, and the sharded
shares over any number of ranks (more ranks than dimensions or rows included) against the whole
criterion, in float64."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2mc_plugin.criteria import sharding as sh
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import marginal_entropy
from e2mc_plugin.criteria.sphere import NORM_EPS, normalize_rows
from e2mc_plugin.criteria.variance import variance_hinge


def _float64_reference(z: torch.Tensor) -> torch.Tensor:
    """F.normalize in float64 with each row scaled by its largest entry first (exact, and no
    overflow for any float64 row of up to 16 entries); rows below eps are clamped as F does."""
    z = z.double()
    amax = z.abs().amax(dim=1, keepdim=True)
    safe = torch.where(amax > 0, amax, torch.ones_like(amax))
    norm = torch.linalg.vector_norm(z / safe, dim=1, keepdim=True) * safe
    return torch.where(norm >= NORM_EPS, (z / safe) / (norm / safe), z / NORM_EPS)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    d=st.integers(1, 16),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    exponents=st.lists(st.integers(-300, 300), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_normalize_rows_matches_float64_at_every_magnitude(n, d, dtype, exponents, seed):
    gen = torch.Generator().manual_seed(seed)
    top = torch.finfo(dtype).max / 8
    scales = torch.tensor([min(10.0**e, top) for e in exponents[:n]], dtype=torch.float64)
    z = (torch.randn(n, d, generator=gen, dtype=torch.float64) * scales.unsqueeze(1)).to(dtype)
    out = normalize_rows(z)
    assert out.dtype == dtype and bool(torch.isfinite(out).all())
    rtol = 1e-6 if dtype == torch.float32 else 1e-13
    ref = _float64_reference(z)
    # entries that float32 flushes to subnormals carry an absolute error of its tiniest numbers
    atol = 1e-30 if dtype == torch.float32 else 1e-300
    torch.testing.assert_close(out.double(), ref, rtol=rtol, atol=atol)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 12),
    d=st.integers(1, 9),
    extra_ranks=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_column_shares_over_any_number_of_ranks_add_up(n, d, extra_ranks, seed):
    """Entropy, variance and both covariance shares of W simulated ranks (W up to d + 4: some
    blocks empty) sum to the whole criterion, in value and in gradient (float64)."""
    world = max(1, d - 2) + extra_ranks
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(n, d, generator=gen, dtype=torch.float64)
    xc = base - base.mean(dim=0, keepdim=True)
    gram = xc @ xc.t()  # what the all-reduce of the Gram shares returns

    def whole(x):
        ent = marginal_entropy(torch.sigmoid(x), eps=1e-7).mean()
        return ent, variance_hinge(x), covariance_penalty(x, method="gram"), covariance_penalty(x)

    def shares(x, rank):
        shard = sh.Shard(rank, world, reduce_sum=lambda g: gram)
        cols = shard.columns(d)
        ent = sh.entropy_share(torch.sigmoid(x[:, cols]), d, m=None, eps=1e-7)
        return (
            ent,
            sh.variance_share(x[:, cols], d),
            sh.covariance_share_gram(x[:, cols], d, shard),
            sh.covariance_share_rows(x, shard),
        )

    ref_x = base.clone().requires_grad_(True)
    refs = whole(ref_x)
    for i, ref in enumerate(refs):
        ref_grad = torch.autograd.grad(ref, ref_x, retain_graph=True)[0]
        x = base.clone().requires_grad_(True)
        total = sum(shares(x, r)[i] for r in range(world))
        (grad,) = torch.autograd.grad(total, x)
        torch.testing.assert_close(total, ref.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-12)
