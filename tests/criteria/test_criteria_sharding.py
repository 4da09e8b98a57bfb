"""Sharded criteria: the ranks' shares add up to the unsharded values and gradients."""

import sys
from pathlib import Path

import pytest
import torch

from e2mc_plugin.criteria import sharding as sh
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import marginal_entropy
from e2mc_plugin.criteria.uniformity import uniformity
from e2mc_plugin.criteria.variance import variance_hinge

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

WORKER = Path(__file__).with_name("sharding_worker.py")


@pytest.mark.parametrize("size,world", [(16, 3), (7, 2), (5, 8), (8192, 16)])
def test_blocks_partition_the_range_in_order(size, world):
    blocks = [sh.block(size, r, world) for r in range(world)]
    assert [i for b in blocks for i in range(b.start, b.stop)] == list(range(size))
    lengths = [b.stop - b.start for b in blocks]
    assert max(lengths) - min(lengths) <= 1


def test_bad_shard_is_an_error_naming_rank_and_world():
    with pytest.raises(ValueError, match="rank=3 of 2"):
        sh.Shard(3, 2)


def test_one_shard_is_the_unsharded_criterion():
    """World 1: every share equals its unsharded criterion, value and gradient (float64)."""
    shard = sh.Shard(0, 1, reduce_sum=lambda t: t.detach().clone())
    gen = torch.Generator().manual_seed(0)
    for n, d in ((10, 16), (20, 7)):
        base = torch.randn(n, d, generator=gen, dtype=torch.float64)
        pairs = [
            (
                lambda x: sh.entropy_share(x, x.shape[1], m=None, eps=1e-7),
                lambda x: marginal_entropy(x, eps=1e-7).mean(),
            ),
            (lambda x: sh.variance_share(x, x.shape[1]), variance_hinge),
            (lambda x: sh.covariance_share(x, shard), covariance_penalty),
            (lambda x: sh.uniformity_share(x, shard), uniformity),
        ]
        for share_fn, full_fn in pairs:
            a = base.clone().requires_grad_(True)
            b = base.clone().requires_grad_(True)
            va, vb = share_fn(a), full_fn(b)
            va.backward()
            vb.backward()
            torch.testing.assert_close(va, vb, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.ddp
@pytest.mark.timeout(200)
@pytest.mark.parametrize("world", [2, 3])
def test_shares_on_gloo_ranks_add_up_to_the_unsharded_criteria(world):
    """2 ranks, and 3 ranks where 3 divides neither d = 16 nor n = 11: values, input gradients
    and, for E2MC through gather + DDP, the parameter gradients equal the unsharded ones."""
    assert_all_ok(run_ranks(WORKER, world, timeout=150))
