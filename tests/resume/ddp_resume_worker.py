"""Worker for test_resume_ddp.py: under DDP (gloo) a signal that reached one rank stops every
rank (``agree``), and each rank's random states come back to that rank (``capture`` /
``restore``). Prints ``AGREE <before> <after>`` and ``STATES <ok>`` per rank."""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import run_worker  # noqa: E402

from e2mc_plugin.resume.random_state import capture, restore  # noqa: E402
from e2mc_plugin.resume.stop_signal import agree  # noqa: E402


def worker(rank: int, world: int, extra: list) -> None:
    print("AGREE", agree(None), agree(15 if rank == 1 else None), flush=True)
    torch.manual_seed(100 + rank)  # each rank its own generator state
    saved = capture()  # a collective, as inside trainer.save_checkpoint on every rank
    expected = torch.rand(4)
    torch.manual_seed(0)
    restore(saved)
    print("STATES", saved["world_size"], torch.equal(torch.rand(4), expected), flush=True)


if __name__ == "__main__":
    run_worker(worker, sys.argv)
