"""A 2-process DDP run (Lightning's ``ddp`` over gloo, through ``e2mc-plugin pretrain``) sent
SIGTERM mid-epoch: both ranks stop after the same batch (they agree on the signal after every
batch), write one checkpoint together, rank 0 prints the one line, and the run exits with 143."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from kill_env import finish, pace_package, start, wait_for  # noqa: E402
from launcher_env import (  # noqa: E402
    declared_entry_points,
    host_checkout,
    image_folder,
    tiny_pretrain_recipe,
)

pytestmark = [pytest.mark.slow, pytest.mark.host106, pytest.mark.ddp]
E2MC = [{"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid", "gather": True}]


def test_ddp_ranks_stop_together_on_sigterm(tmp_path):
    src = host_checkout()
    train = image_folder(tmp_path / "data" / "train", classes=4, per_class=8, seed=0)
    paths = [declared_entry_points(tmp_path / "meta"), pace_package(tmp_path / "pace")]
    cwd = tmp_path / "run"
    (cwd / "recipes").mkdir(parents=True)
    recipe = tiny_pretrain_recipe(train, name="ddp-stop", batch=4, max_epochs=3,
                                  limit_train_batches=3, aux_losses=E2MC, accelerator="cpu",
                                  devices=1, strategy="auto")  # fmt: skip
    (cwd / "recipes" / "pretrain.yaml").write_text(recipe)
    marks = tmp_path / "marks"
    marks.mkdir()
    args = ["pretrain", "--cpu", "--config-path", "recipes", "--config-name", "pretrain.yaml",
            "strategy=ddp", "devices=2"]  # fmt: skip
    proc = start(args, cwd, src, paths, {"PACE_DIR": str(marks), "PACE_SLEEP": "2"})
    wait_for(marks / "epoch1-batch0", proc)
    os.kill(proc.pid, signal.SIGTERM)  # rank 0 only
    code, out, err = finish(proc, cwd)
    assert code == 143, err[-4000:]
    lines = [x for x in err.splitlines() if x.startswith("e2mc-plugin: stopped by SIGTERM")]
    assert len(lines) == 1, err[-4000:]
    (saved,) = (cwd / "trained_models" / "vicreg_aux").glob("*/*.ckpt")
    assert f"; checkpoint {saved.resolve()}; " in lines[0]
    ckpt = torch.load(saved, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 1 and f"(after global step {ckpt['global_step']})" in lines[0]
    states = ckpt["e2mc_plugin_random_states"]
    assert states["world_size"] == 2 and len(states["ranks"]) == 2  # each rank's own
