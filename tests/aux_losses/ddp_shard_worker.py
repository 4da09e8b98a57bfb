"""Worker for test_aux_sharding.py: ``shard`` on W gloo ranks equals the unsharded aux losses.

One rank per process (``gloo_harness.run_ranks``; W = 2 or 3, and 3 divides neither d nor n).
For every loss that splits exactly, with ``gather=True``, in float64: the loss and every term of
``shard=True`` equal those of ``shard=False`` on every rank, the local input gradients are equal,
and through a DDP linear layer the parameter gradients are equal (n < d: the Gram covariance
share with its n x n all-reduce; n >= d: the row-block share).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import assert_close_f64, run_worker  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from e2mc_plugin.aux_losses import build_aux_loss  # noqa: E402

SPECS = [
    ("e2mc", {"beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}),
    ("e2mc", {"beta": 1.0, "gamma": 25.0, "mapping": "gaussian_cdf", "reduction": "paper"}),
    ("vcreg", {"space": "projector", "mu": 1.0, "nu": 1.0}),
    ("vcreg", {"space": "hypersphere", "mu": 1.0, "nu": 1.0}),
    ("auh", {"weight": 1.0, "alignment_weight": 0.5}),
]


close = assert_close_f64


def worker(rank: int, world: int, extra: list) -> None:
    for n_local, dim in ((5, 16), (9, 8)):  # global n = W * n_local: n < d, then n >= d
        rows = slice(rank * n_local, (rank + 1) * n_local)
        gen = torch.Generator().manual_seed(11)
        full = [
            torch.randn(world * n_local, dim, generator=gen, dtype=torch.float64) for _ in range(3)
        ]
        for name, kwargs in SPECS:
            what = f"{name} {kwargs} world {world} n {world * n_local} d {dim}"
            results = {}
            for shard in (True, False):
                loss = build_aux_loss(name, gather=True, views="all", shard=shard, **kwargs)
                assert (loss.active_shard() is not None) == shard, what
                local = [f[rows].clone().requires_grad_(True) for f in full]
                out = loss(local)
                out["loss"].backward()
                results[shard] = (out, [v.grad for v in local])
            (out_s, grads_s), (out_u, grads_u) = results[True], results[False]
            assert set(out_s) == set(out_u), what
            for key in out_u:
                close(out_s[key].detach(), out_u[key].detach(), f"{what}: {key}")
            for v, (gs, gu) in enumerate(zip(grads_s, grads_u, strict=True)):
                close(gs, gu, f"{what}: input gradient of view {v}")

            # Parameter gradients through DDP.
            grads = {}
            for shard in (True, False):
                torch.manual_seed(1)
                net = DistributedDataParallel(nn.Linear(dim, dim).double())
                loss = build_aux_loss(name, gather=True, shard=shard, **kwargs)
                loss([net(f[rows]) for f in full[:2]])["loss"].backward()
                grads[shard] = [p.grad.clone() for p in net.parameters()]
            for gs, gu in zip(grads[True], grads[False], strict=True):
                close(gs, gu, f"{what}: DDP parameter gradient")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
