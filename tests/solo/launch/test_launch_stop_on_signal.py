"""A run of ours stopped by a scheduler's signal, on both hosts: a checkpoint of the moment, one
line naming the signal, the file and how to resume, exit status 128 + signal, and a resume from
that file that finishes the run (through the Python API: the run-safety callbacks of the
``callbacks_factory`` entry point; each run in its own process, ``stop_worker.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("stop_worker.py")


def _worker(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(WORKER), *args], env=env, capture_output=True, text=True, timeout=600
    )


def _stopped_line(res) -> str:
    lines = [x for x in res.stderr.splitlines() if x.startswith("e2mc-plugin: stopped by")]
    assert len(lines) == 1, res.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    "writer, signame, status, name",
    [
        ("solo", "SIGTERM", 143, "run-"),
        pytest.param("lightning", "SIGUSR1", 138, "last.ckpt", marks=pytest.mark.slow),
    ],
)
def test_a_signal_mid_epoch_checkpoints_says_so_and_exits_nonzero(tmp_path, writer, signame,
                                                                   status, name):  # fmt: skip
    res = _worker(str(tmp_path), writer, signame)
    assert res.returncode == status, res.stderr[-3000:]
    line = _stopped_line(res)
    assert line.startswith(
        f"e2mc-plugin: stopped by {signame} during epoch 1 (after global step 3)"
    )
    ckpt = Path(line.split("; checkpoint ")[1].split(";")[0])
    assert ckpt.is_file() and name in ckpt.name and str(ckpt) in line.split("resume: ")[1]
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 3)
    if writer == "solo":  # solo's naming for the epoch, and its previous file replaced
        assert ckpt.name.endswith("-ep=1.ckpt") and list(ckpt.parent.glob("*.ckpt")) == [ckpt]

    # the resume finishes the run; it starts epoch 1 over (a fresh pass over its 2 batches):
    # 3 steps before the stop + 2 + epoch 2's 2 (what the README says a mid-epoch resume does)
    res = _worker(str(tmp_path / "resumed"), writer, "resume", str(ckpt))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "steps 7 AtomicCheckpointIO" in res.stdout  # installed by the factory's callback


@pytest.mark.slow
def test_without_checkpointing_the_line_says_nothing_was_saved(tmp_path):
    res = _worker(str(tmp_path), "none", "SIGTERM")
    assert res.returncode == 143, res.stderr[-3000:]
    line = _stopped_line(res)
    assert "no checkpoint written (checkpointing is off" in line
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
def test_a_sigterm_before_training_began_still_exits_nonzero_and_says_so(tmp_path):
    """In the sanity check: Lightning 2.x stops there itself (its exit status was 0); on 1.x the
    signal is noted and the run stops after its first batch with a checkpoint."""
    res = _worker(str(tmp_path), "solo", "sanity")
    assert res.returncode == 143, res.stderr[-3000:]
    line = _stopped_line(res)
    assert line.startswith("e2mc-plugin: stopped by SIGTERM ")
    before = "before training began; no checkpoint written (nothing was trained yet"
    assert before in line or "during epoch 0 (after global step 1); checkpoint " in line
