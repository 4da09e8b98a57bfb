"""Worker for test_criteria_sharding.py: shares on W gloo ranks add up to the unsharded criteria.

One rank per process (``gloo_harness.run_ranks``). In float64, for every share function: the
all-reduced share values equal the unsharded value, and the all-reduced share gradients equal the
unsharded gradient. Then the E2MC combination end to end: local rows through a DDP linear layer,
``gather_with_grad``, shares, ``combine_shares``: the DDP parameter gradients equal the
single-process full-batch ones, and equal those of the unsharded gathered computation.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from gloo_harness import assert_close_f64, run_worker  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from e2mc_plugin.criteria import sharding as sh  # noqa: E402
from e2mc_plugin.criteria.covariance import covariance_penalty  # noqa: E402
from e2mc_plugin.criteria.entropy import marginal_entropy  # noqa: E402
from e2mc_plugin.criteria.gather import gather_with_grad  # noqa: E402
from e2mc_plugin.criteria.uniformity import uniformity  # noqa: E402
from e2mc_plugin.criteria.variance import variance_hinge  # noqa: E402

close = assert_close_f64


def summed(t):
    t = t.detach().clone()
    dist.all_reduce(t)
    return t


CASES = {
    # name: (share(x, shard), unsharded(x), n, d)
    "entropy": (
        lambda x, s: sh.entropy_share(
            torch.sigmoid(x[:, s.columns(x.shape[1])]), x.shape[1], m=None, eps=1e-7
        ),
        lambda x: marginal_entropy(torch.sigmoid(x), eps=1e-7).mean(),
        20,
        16,
    ),
    "variance": (
        lambda x, s: sh.variance_share(x[:, s.columns(x.shape[1])], x.shape[1]),
        lambda x: variance_hinge(x),
        12,
        16,
    ),
    "covariance gram (n < d)": (
        lambda x, s: sh.covariance_share(x, s),
        lambda x: covariance_penalty(x),
        10,
        16,
    ),
    "covariance rows (n >= d)": (
        lambda x, s: sh.covariance_share(x, s),
        lambda x: covariance_penalty(x),
        20,
        7,
    ),
    "uniformity": (
        lambda x, s: sh.uniformity_share(x, s, t=2.0),
        lambda x: uniformity(x, t=2.0),
        11,
        5,
    ),
}


def worker(rank: int, world: int, extra: list) -> None:
    shard = sh.Shard.current()
    assert shard is not None and shard.rank == rank and shard.world == world
    for name, (share_fn, full_fn, n, d) in CASES.items():
        gen = torch.Generator().manual_seed(7)
        base = torch.randn(n, d, generator=gen, dtype=torch.float64)
        x = base.clone().requires_grad_(True)
        share = share_fn(x, shard)
        share.backward()
        ref_x = base.clone().requires_grad_(True)
        ref = full_fn(ref_x)
        ref.backward()
        close(summed(share), ref.detach(), f"{name} value (world {world})")
        close(summed(x.grad), ref_x.grad, f"{name} gradient (world {world})")

    # E2MC end to end through gather_with_grad and DDP.
    n_local, dim = 6, 16
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(world * n_local, dim, generator=gen, dtype=torch.float64) for _ in range(2)]
    rows = slice(rank * n_local, (rank + 1) * n_local)
    torch.manual_seed(1)
    net = nn.Linear(dim, dim).double()
    single = nn.Linear(dim, dim).double()
    replicated = nn.Linear(dim, dim).double()
    single.load_state_dict(net.state_dict())
    replicated.load_state_dict(net.state_dict())
    beta, gamma = 2.0, 3.0

    def e2mc_shares(views):
        d = views[0].shape[1]
        cols = shard.columns(d)
        ent = torch.stack(
            [sh.entropy_share(torch.sigmoid(z[:, cols]), d, m=None, eps=1e-7) for z in views]
        )
        cov = torch.stack(
            [sh.covariance_share_gram(torch.sigmoid(z[:, cols]), d, shard) for z in views]
        )
        entropy, covariance = ent.sum() / len(views), cov.sum()
        loss = -beta * entropy + gamma * covariance
        return {"loss": loss, "entropy": entropy, "covariance": covariance}

    def e2mc_full(views):
        ent = torch.stack([marginal_entropy(torch.sigmoid(z), eps=1e-7).mean() for z in views])
        cov = torch.stack([covariance_penalty(torch.sigmoid(z)) for z in views])
        entropy, covariance = ent.mean(), cov.sum()
        return {
            "loss": -beta * entropy + gamma * covariance,
            "entropy": entropy,
            "covariance": covariance,
        }

    ddp = DistributedDataParallel(net)
    out = sh.combine_shares(e2mc_shares([gather_with_grad(ddp(x[rows])) for x in xs]), shard)
    out["loss"].backward()
    ref = e2mc_full([single(x) for x in xs])
    ref["loss"].backward()
    for key in ("loss", "entropy", "covariance"):
        close(out[key].detach(), ref[key].detach(), f"e2mc {key} (world {world})")
    close(net.weight.grad, single.weight.grad, f"DDP weight grad vs full batch (world {world})")
    close(net.bias.grad, single.bias.grad, f"DDP bias grad vs full batch (world {world})")
    # ... and equal to today's unsharded gathered computation on this rank.
    ddp2 = DistributedDataParallel(replicated)
    e2mc_full([gather_with_grad(ddp2(x[rows])) for x in xs])["loss"].backward()
    close(net.weight.grad, replicated.weight.grad, f"sharded vs unsharded gather (world {world})")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
