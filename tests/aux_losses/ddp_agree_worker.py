"""Worker for test_aux_agree.py: ranks whose views cannot be gathered all raise the same error.

One rank per process (``gloo_harness.run_ranks``). Each error case prints one line
``CASE <name> <error type>: <message>`` per rank (the test compares the ranks' lines); a rank
left waiting in a collective would instead run into the test's timeout. Then the cases that
must compute: more ranks than embedding dimensions under sharding (VCReg d = 1, E2MC d = 2):
value, terms and DDP parameter gradients equal the single-process full batch in float64.
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

E2MC = {"beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}


def error_cases(rank: int):
    """name -> (loss, this rank's views); rank 1 (or its views) is the odd one."""
    ok = [torch.randn(6, 8) for _ in range(2)]
    return {
        "empty-batch": ("e2mc", E2MC, [torch.randn(0 if rank == 1 else 6, 8) for _ in range(2)]),
        "one-d-view": ("vcreg", {}, [torch.randn(6)] * 2 if rank == 1 else ok),
        "views-count": ("auh", {}, ok + [torch.randn(6, 8)] * rank),
        "dtypes": ("mmcr", {}, [v.double() for v in ok] if rank == 1 else ok),
    }


def worker(rank: int, world: int, extra: list) -> None:
    for case, (name, kwargs, views) in error_cases(rank).items():
        loss = build_aux_loss(name, gather=True, **kwargs)
        try:
            loss(views)
        except (TypeError, ValueError) as err:
            print(f"CASE {case} {type(err).__name__}: {err}", flush=True)
        else:
            raise AssertionError(f"{case}: no error on rank {rank}")

    for name, kwargs, dim in (
        ("vcreg", {"space": "projector"}, 1),
        ("vcreg", {"space": "hypersphere"}, 1),
        ("e2mc", E2MC, 2),
    ):
        n_local = 4
        rows = slice(rank * n_local, (rank + 1) * n_local)
        gen = torch.Generator().manual_seed(9)
        full = [torch.randn(world * n_local, dim, generator=gen, dtype=torch.float64) for _ in "ab"]
        keys = ["loss", *build_aux_loss(name, **kwargs).term_names]
        for key in keys:
            what = f"{name} {kwargs} d={dim} world {world}: {key}"
            torch.manual_seed(2)
            net = nn.Linear(dim, dim).double()
            single = nn.Linear(dim, dim).double()
            single.load_state_dict(net.state_dict())
            sharded = build_aux_loss(name, gather=True, **kwargs)
            assert sharded.active_shard() is not None, what
            ddp = DistributedDataParallel(net)
            out = sharded([ddp(f[rows]) for f in full])[key]
            out.backward()
            ref = build_aux_loss(name, **kwargs)([single(f) for f in full])[key]
            ref.backward()
            assert_close_f64(out.detach(), ref.detach(), f"{what}: value")
            for p, q in zip(net.parameters(), single.parameters(), strict=True):
                assert_close_f64(p.grad, q.grad, f"{what}: parameter gradient")


if __name__ == "__main__":
    run_worker(worker, sys.argv)
