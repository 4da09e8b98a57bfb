"""Worker for test_aux_ddp.py: 2 gloo ranks vs the single-process full-batch computation.

One rank per process, started by ``gloo_harness.run_ranks`` (``python ddp_aux_worker.py RANK
WORLD STORE``); exits non-zero (with a traceback) on any mismatch.
Checks, in float64: gather_with_grad alone; every aux loss with gather=True (loss, terms and the
input gradients, which are world_size x the full-batch ones before DDP's averaging); and a
DDP-wrapped linear layer whose parameter gradients equal the single-process ones.
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
from e2mc_plugin.criteria.gather import gather_with_grad  # noqa: E402

WORLD = 2
N_LOCAL, DIM, N_VIEWS = 8, 12, 4
SPECS = [
    ("e2mc", {"beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}),
    ("e2mc", {"beta": 1.0, "gamma": 25.0, "mapping": "gaussian_cdf", "reduction": "paper"}),
    ("vcreg", {"space": "projector", "mu": 1.0, "nu": 1.0}),
    ("vcreg", {"space": "hypersphere", "mu": 1.0, "nu": 1.0}),
    ("auh", {"weight": 1.0, "alignment_weight": 0.5}),
    ("mmcr", {"weight": 1.0}),
]


close = assert_close_f64


def worker(rank: int, world: int, extra: list) -> None:
    assert world == WORLD, world
    sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    gen = torch.Generator().manual_seed(0)
    full = [
        torch.randn(WORLD * N_LOCAL, DIM, generator=gen, dtype=torch.float64)
        for _ in range(N_VIEWS)
    ]

    # gather_with_grad alone: forward concatenates in rank order, backward sums the copies.
    x = full[0][sl].clone().requires_grad_(True)
    g = gather_with_grad(x)
    close(g, full[0], "gather forward")
    weights = torch.arange(g.numel(), dtype=torch.float64).reshape(g.shape)
    (g * weights).sum().backward()
    close(x.grad, WORLD * weights[sl], "gather backward")

    for name, kwargs in SPECS:
        local = [f[sl].clone().requires_grad_(True) for f in full]
        out = build_aux_loss(name, gather=True, views="all", **kwargs)(local)
        out["loss"].backward()
        ref_in = [f.clone().requires_grad_(True) for f in full]
        ref = build_aux_loss(name, gather=False, views="all", **kwargs)(ref_in)
        ref["loss"].backward()
        assert set(out) == set(ref), (name, set(out), set(ref))
        for key in ref:
            close(out[key].detach(), ref[key].detach(), f"{name}/{key} {kwargs}")
        for v in range(N_VIEWS):
            # Every rank back-propagates the same global loss; the all-reduce sums the
            # WORLD copies, DDP then divides parameter gradients by WORLD.
            close(local[v].grad / WORLD, ref_in[v].grad[sl], f"{name} grad view {v}")

    # A DDP model: parameter gradients equal the single-process full-batch ones.
    torch.manual_seed(1)
    net = nn.Linear(DIM, DIM).double()
    single = nn.Linear(DIM, DIM).double()
    single.load_state_dict(net.state_dict())
    ddp = DistributedDataParallel(net)
    loss_fn = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid", gather=True)
    loss_fn([ddp(full[0][sl]), ddp(full[1][sl])])["loss"].backward()
    ref_fn = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid")
    ref_fn([single(full[0]), single(full[1])])["loss"].backward()
    close(net.weight.grad, single.weight.grad, "DDP weight grad")
    close(net.bias.grad, single.bias.grad, "DDP bias grad")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
