"""Exact resume at an epoch boundary for any LightningModule with aux losses attached: a 3-epoch
run stopped after epoch 1's checkpoint and resumed ends with the weights of the uninterrupted run
(the adapter's checkpoint hooks keep the random states; :mod:`e2mc_plugin.resume.random_state`),
with and without loader workers; the checkpoints go through the documented atomic CheckpointIO."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from lightning_models import E2MC, TinySSL, pl, trainer  # noqa: E402
from resume_data import TwoViews  # noqa: E402

from e2mc_plugin.lightning import atomic_checkpoint_io, attach_aux_losses  # noqa: E402
from e2mc_plugin.resume.random_state import RANDOM_STATE_KEY  # noqa: E402


class Stopped(Exception):
    pass


class SaveEachEpoch(pl.Callback):
    def __init__(self, folder: Path, stop_after=None) -> None:
        self.folder, self.stop_after = folder, stop_after

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.save_checkpoint(self.folder / f"ep={trainer.current_epoch}.ckpt")
        if trainer.current_epoch == self.stop_after:
            raise Stopped


def _fit(folder: Path, *, seed: int, workers: int, stop_after=None, ckpt=None):
    pl.seed_everything(seed, workers=True)
    model = attach_aux_losses(TinySSL(), [E2MC], embedding="projection_head")
    loader = DataLoader(TwoViews(), batch_size=8, shuffle=True, num_workers=workers)
    folder.mkdir(parents=True, exist_ok=True)
    run = trainer(max_steps=-1, max_epochs=3, callbacks=[SaveEachEpoch(folder, stop_after)],
                  plugins=[atomic_checkpoint_io(pl)])  # fmt: skip
    try:
        run.fit(model, loader, ckpt_path=ckpt)
    except Stopped:
        return None
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_adapter_resumed_after_epoch_1_ends_with_the_uninterrupted_weights(tmp_path, workers):
    whole = _fit(tmp_path / "whole", seed=3, workers=workers)
    assert _fit(tmp_path / "part", seed=3, workers=workers, stop_after=1) is None
    ckpt = tmp_path / "part" / "ep=1.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert RANDOM_STATE_KEY in saved
    assert not [p.name for p in ckpt.parent.iterdir() if p.name.endswith(".tmp")]

    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    resumed = _fit(tmp_path / "resumed", seed=11, workers=workers, ckpt=str(ckpt))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)

    del saved[RANDOM_STATE_KEY]  # control: without the states the resume ends elsewhere
    torch.save(saved, tmp_path / "stripped.ckpt")
    other = _fit(tmp_path / "other", seed=11, workers=workers, ckpt=str(tmp_path / "stripped.ckpt"))
    assert not all(torch.equal(whole[k], other[k]) for k in whole)
