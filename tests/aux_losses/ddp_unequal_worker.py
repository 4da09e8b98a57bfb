"""Worker for test_aux_ddp.py: gather=True with different per-rank batch sizes (8 and 5 rows).

Every aux loss on 2 gloo ranks equals the single-process computation on the 13 rows (values,
terms and input gradients, in float64); different embedding sizes across ranks raise an error
naming each rank's shape, on every rank.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import assert_close_f64, run_worker  # noqa: E402

from e2mc_plugin.aux_losses import build_aux_loss  # noqa: E402

SIZES = (8, 5)
DIM, N_VIEWS = 6, 3
SPECS = [
    ("e2mc", {"beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}),
    ("vcreg", {"space": "projector", "mu": 1.0, "nu": 1.0}),
    ("auh", {"weight": 1.0, "alignment_weight": 0.5}),
    ("mmcr", {"weight": 1.0}),
]


close = assert_close_f64


def worker(rank: int, world: int, extra: list) -> None:
    assert world == len(SIZES), world
    start = sum(SIZES[:rank])
    sl = slice(start, start + SIZES[rank])
    gen = torch.Generator().manual_seed(0)
    n = sum(SIZES)
    full = [torch.randn(n, DIM, generator=gen, dtype=torch.float64) for _ in range(N_VIEWS)]
    for name, kwargs in SPECS:
        local = [f[sl].clone().requires_grad_(True) for f in full]
        out = build_aux_loss(name, gather=True, views="all", **kwargs)(local)
        out["loss"].backward()
        ref_in = [f.clone().requires_grad_(True) for f in full]
        ref = build_aux_loss(name, views="all", **kwargs)(ref_in)
        ref["loss"].backward()
        for key in ref:
            close(out[key].detach(), ref[key].detach(), f"{name}/{key}")
        for v in range(N_VIEWS):
            close(local[v].grad / world, ref_in[v].grad[sl], f"{name} grad view {v}")

    dim = DIM + rank  # a shape mismatch: a clear error on every rank, no gloo abort
    try:
        build_aux_loss("vcreg", gather=True)([torch.randn(4, dim), torch.randn(4, dim)])
    except ValueError as err:
        assert "rank 0: (4, 6), rank 1: (4, 7)" in str(err), err
    else:
        raise AssertionError("different embedding sizes were gathered")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
