"""Worker for test_aux_agree.py: ranks whose views cannot be gathered all raise the same error.

One rank per process (``gloo_harness.run_ranks``). Each error case prints one line
``CASE <name> <error type>: <message>`` per rank (the test compares the ranks' lines); a rank
left waiting in a collective would instead run into the test's timeout. (More ranks than
embedding dimensions computes exactly: ``ddp_term_worker.py``.)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import run_worker  # noqa: E402

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


if __name__ == "__main__":
    run_worker(worker, sys.argv)
