"""Worker for test_aux_sharding.py: under sharding, every returned term carries the full-batch
term's value AND gradient.

One rank per process (``gloo_harness.run_ranks``; W = 2 or 3, and 3 divides neither d nor n).
In float64, for every loss that splits exactly, with ``gather=True`` (sharded by default): each
key of the output (``loss`` and every term) is back-propagated alone through a DDP linear layer;
its value and the layer's parameter gradients equal those of the same key computed in one
process on the whole batch (a plain layer, ``gather=False``). Also with more ranks than
embedding dimensions (d = 1, 2), where some ranks hold no column.
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
    ("vcreg", {"space": "projector", "mu": 1.0, "nu": 1.0}),
    ("vcreg", {"space": "hypersphere", "mu": 1.0, "nu": 1.0}),
    ("auh", {"weight": 1.0, "alignment_weight": 0.5}),
]


def param_grads(net, loss, views, key):
    out = loss(views)
    out[key].backward()
    return out[key].detach(), [p.grad.clone() for p in net.parameters()]


def worker(rank: int, world: int, extra: list) -> None:
    # global n = W * n_local: n < d, n >= d, and more ranks than dims (empty column blocks)
    for n_local, dim in ((5, 16), (9, 8), (4, 2), (4, 1)):
        rows = slice(rank * n_local, (rank + 1) * n_local)
        gen = torch.Generator().manual_seed(5)
        full = [
            torch.randn(world * n_local, dim, generator=gen, dtype=torch.float64) for _ in range(2)
        ]
        for name, kwargs in SPECS:
            keys = ["loss", *build_aux_loss(name, **kwargs).term_names]
            if name == "auh" and not kwargs.get("alignment_weight"):
                keys.remove("alignment")
            for key in keys:
                what = f"{name} {kwargs} world {world} n {world * n_local} d {dim}: {key}"
                torch.manual_seed(1)
                net = nn.Linear(dim, dim).double()
                single = nn.Linear(dim, dim).double()
                single.load_state_dict(net.state_dict())
                sharded = build_aux_loss(name, gather=True, **kwargs)
                assert sharded.active_shard() is not None, what
                ddp = DistributedDataParallel(net)
                value, grads = param_grads(net, sharded, [ddp(f[rows]) for f in full], key)
                ref_loss = build_aux_loss(name, gather=False, **kwargs)
                ref_value, ref_grads = param_grads(single, ref_loss, [single(f) for f in full], key)
                assert_close_f64(value, ref_value, f"{what}: value")
                for g, r in zip(grads, ref_grads, strict=True):
                    assert_close_f64(g, r, f"{what}: parameter gradient")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
