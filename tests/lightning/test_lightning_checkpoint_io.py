"""The atomic CheckpointIO (``atomic_checkpoint_io(pl)``) against Lightning's own writer.

A Trainer process killed (SIGKILL) while ``trainer.save_checkpoint`` writes over an existing
checkpoint: with Lightning's default ``TorchCheckpointIO`` the file under the final name is cut
short (the failure that made every later auto-resume fail); with the plugin it is still the
previous checkpoint, complete. Reading a damaged checkpoint names the file; the plugin pickles
(``ddp_spawn`` sends the trainer to its processes).
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from lightning_models import TinySSL, loader, pl, trainer  # noqa: E402

from e2mc_plugin.checkpoints import CorruptCheckpointError  # noqa: E402
from e2mc_plugin.lightning import atomic_checkpoint_io  # noqa: E402

KILLED_MID_SAVE = """
import builtins, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from lightning_models import TinySSL, loader, pl, trainer
from e2mc_plugin.lightning import atomic_checkpoint_io

target, marker, plugin = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "atomic"
run = trainer(max_steps=1, plugins=[atomic_checkpoint_io(pl)] if plugin else [])
run.fit(TinySSL(), loader(8))
run.save_checkpoint(target)          # a complete checkpoint first

real_open = builtins.open
class HalfThenWait:                  # the second save stops half way, as a kill would find it
    def __init__(self, f): self.f = f
    def write(self, data):
        self.f.write(bytes(data)[: len(data) // 2]); self.f.flush()
        marker.touch(); time.sleep(120)
    def __getattr__(self, name): return getattr(self.f, name)
    def __enter__(self): return self
    def __exit__(self, *exc): return self.f.__exit__(*exc)
def slow_open(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    return HalfThenWait(f) if "w" in mode or "x" in mode else f
builtins.open = slow_open
run.save_checkpoint(target)
"""


def _killed_mid_save(tmp_path: Path, plugin: str) -> Path:
    target, marker = tmp_path / plugin / "last.ckpt", tmp_path / plugin / "half"
    target.parent.mkdir()
    support = str(Path(__file__).resolve().parents[1] / "support")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_SAVE, str(target), str(marker), plugin, support],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the save never started:\n{proc.communicate()[0][-3000:]}")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    return target


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    default = _killed_mid_save(tmp_path, "default")  # Lightning's writer: the reference
    with pytest.raises(Exception):  # noqa: B017 - whatever torch says about a cut-short zip
        torch.load(default, map_location="cpu", weights_only=True)

    atomic = _killed_mid_save(tmp_path, "atomic")
    state = torch.load(atomic, map_location="cpu", weights_only=True)
    assert state["global_step"] == 1 and "state_dict" in state
    assert [p.name for p in atomic.parent.iterdir() if p.name.endswith(".tmp")]  # the part


def test_a_damaged_checkpoint_is_named_when_a_fit_resumes_from_it(tmp_path):
    run = trainer(max_steps=1, plugins=[atomic_checkpoint_io(pl)])
    run.fit(TinySSL(), loader(8))
    good = tmp_path / "good.ckpt"
    run.save_checkpoint(good)
    assert torch.load(good, map_location="cpu", weights_only=True)["global_step"] == 1
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    again = trainer(max_steps=2, plugins=[atomic_checkpoint_io(pl)])
    with pytest.raises(CorruptCheckpointError, match=str(cut)):
        again.fit(TinySSL(), loader(8), ckpt_path=str(cut))


def test_the_plugin_pickles_by_package_name_and_refuses_another_package():
    io = pickle.loads(pickle.dumps(atomic_checkpoint_io(pl)))
    assert type(io) is type(atomic_checkpoint_io(pl.__name__))
    assert isinstance(io, pl.plugins.io.TorchCheckpointIO)
    with pytest.raises(ValueError, match="lightning.pytorch or pytorch_lightning"):
        atomic_checkpoint_io("torch")
