"""Ranks that cannot gather their views all raise the same clear error; none is left waiting."""

import re
import sys
from pathlib import Path

import pytest
import torch

from e2mc_plugin.criteria import sharding as sh

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from gloo_harness import assert_all_ok, run_ranks  # noqa: E402

WORKER = Path(__file__).with_name("ddp_agree_worker.py")
EXPECTED = {
    "empty-batch": r"e2mc: invalid views on rank 1: view 0: the batch is empty",
    "one-d-view": r"vcreg: invalid views on rank 1: view 0: expected a 2-D tensor",
    "views-count": r"auh: the number of views differs across ranks \(rank 0: 2 views, rank 1: 3",
    "dtypes": r"mmcr: the view dtypes differ across ranks \(rank 0: float32, float32; rank 1: f",
}


def cases(output: str) -> dict:
    return dict(re.findall(r"^CASE (\S+) (.*)$", output, flags=re.M))


@pytest.mark.ddp
@pytest.mark.timeout(150)
def test_every_rank_raises_the_same_error_and_none_waits():
    """2 gloo ranks, one of them with bad views: the run ends well inside the short timeout
    (a rank left in a collective would wait for the whole gloo timeout), every rank raises the
    same RankViewsError naming the bad rank."""
    results = run_ranks(WORKER, 2, timeout=90)
    assert_all_ok(results)
    per_rank = [cases(r.output) for r in results]
    assert per_rank[0] == per_rank[1]
    assert set(per_rank[0]) == set(EXPECTED)
    for case, pattern in EXPECTED.items():
        assert per_rank[0][case].startswith("RankViewsError: "), per_rank[0][case]
        assert re.search(pattern, per_rank[0][case]), per_rank[0][case]


def test_an_empty_block_of_columns_shares_zero_and_takes_part_in_the_reduction():
    """Rank 3 of 4 on d = 3 holds no column: the Gram share adds a zero n x n block to the
    all-reduce (every rank calls it) and shares 0; entropy and variance shares are 0 too."""
    reduced = []

    def reduce_sum(t):
        reduced.append(t.shape)
        return t.detach().clone()

    shard = sh.Shard(3, 4, reduce_sum=reduce_sum)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    block = x[:, shard.columns(3)]
    assert block.shape == (2, 0)
    shares = [
        sh.covariance_share_gram(block, 3, shard),
        sh.variance_share(block, 3),
        sh.entropy_share(block, 3, m=1, eps=1e-7),
    ]
    assert reduced == [torch.Size([2, 2])]
    torch.stack(shares).sum().backward()
    assert [float(s.detach()) for s in shares] == [0.0, 0.0, 0.0]
    assert torch.equal(x.grad, torch.zeros_like(x))
