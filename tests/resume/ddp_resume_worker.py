"""Worker for test_resume_ddp.py: under DDP (gloo) a signal that reached one rank stops every
rank (``agree``: over the default group, over a given gloo group, and over the gloo group it
makes once when the default backend is not gloo, as in a NCCL run), and each rank's random
states come back to that rank (``capture`` / ``restore``). Prints ``AGREE <before> <after>``,
``AGREE_GROUP ...``, ``AGREE_NCCL <before> <after> <groups made>`` and ``STATES <ok>`` per
rank."""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import run_worker  # noqa: E402

from e2mc_plugin.resume import stop_signal  # noqa: E402
from e2mc_plugin.resume.random_state import capture, restore  # noqa: E402
from e2mc_plugin.resume.stop_signal import agree  # noqa: E402


def worker(rank: int, world: int, extra: list) -> None:
    print("AGREE", agree(None), agree(15 if rank == 1 else None), flush=True)
    # the path of a NCCL run: the number over a separate gloo group of the same ranks
    gloo = torch.distributed.new_group(backend="gloo")
    print("AGREE_GROUP", agree(None, gloo), agree(10 if rank == 0 else None, gloo), flush=True)
    real_backend = torch.distributed.get_backend
    torch.distributed.get_backend = lambda *args: "nccl"  # the default group of a NCCL run
    try:
        first, second = agree(None), agree(10 if rank == 0 else None)
    finally:
        torch.distributed.get_backend = real_backend
    print("AGREE_NCCL", first, second, len(stop_signal._GLOO_GROUPS), flush=True)
    torch.manual_seed(100 + rank)  # each rank its own generator state
    saved = capture()  # a collective, as inside trainer.save_checkpoint on every rank
    expected = torch.rand(4)
    torch.manual_seed(0)
    restore(saved)
    print("STATES", saved["world_size"], torch.equal(torch.rand(4), expected), flush=True)


if __name__ == "__main__":
    run_worker(worker, sys.argv)
