"""The run summary of the launchers, through the ``RunSummary`` callback in a real Lightning fit on
either host's Lightning:

* a probe / fine-tuning run gives the last AND the best ``val_acc1`` with its epoch (the
  reference reports ``best_acc1``), its validations logging a known sequence;
* a run resumed from a checkpoint says so at its first training epoch: the checkpoint, the epoch
  it trains and the global step restored, printed once and kept in ``metrics.json``
  (``resumed_from``); a run that starts fresh says nothing of the kind. The checkpoint is written
  where solo's ``Checkpointer`` writes it (at an epoch's end).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from tiny_lightning import tiny_module_class  # noqa: E402

ACC = [50.0, 70.0, 60.0, 70.0, 65.0]  # per epoch; best 70 first at epoch 1, last 65 at epoch 4
SANITY = 99.0  # logged during Lightning's sanity check: must not count
BATCHES = 2  # per epoch


def _fit(root, epochs: int, ckpt_path=None):
    from torch.utils.data import DataLoader, TensorDataset

    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.launch.callbacks import make_run_summary

    pl = compat.lightning()

    class Tiny(tiny_module_class(pl)):
        def validation_step(self, batch, batch_idx):
            acc = SANITY if self.trainer.sanity_checking else ACC[self.current_epoch]
            self.log("val_acc1", acc, on_epoch=True)

    class EpochEndSave(pl.Callback):  # as solo's Checkpointer: in on_train_epoch_end
        def on_train_epoch_end(self, trainer, pl_module):
            trainer.save_checkpoint(root / f"ep={trainer.current_epoch}.ckpt")

    root.mkdir()
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[EpochEndSave(), make_run_summary("linear")],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        num_sanity_val_steps=1,
        default_root_dir=str(root),
    )
    loader = DataLoader(TensorDataset(torch.randn(2 * BATCHES, 2)), batch_size=2)
    trainer.fit(Tiny(), loader, loader, ckpt_path=None if ckpt_path is None else str(ckpt_path))
    return json.loads((root / "linear-metrics.json").read_text())


def test_summary_gives_last_and_best_val_acc1_with_epochs(tmp_path, capsys):
    record = _fit(tmp_path / "run", len(ACC))
    assert record["val_acc1"] == {"last": 65.0, "last_epoch": 4, "best": 70.0, "best_epoch": 1}
    assert record["metrics"]["val_acc1"] == pytest.approx(65.0)  # the last, as before
    out = capsys.readouterr().out
    assert "val_acc1:          last 65 (epoch 4), best 70 (epoch 1; epochs from 0)" in out


def test_summary_without_validation_has_no_best(tmp_path):
    from e2mc_plugin.solo.launch.run_summary import BestEpoch, format_record

    assert BestEpoch().as_dict() is None
    record = {"command": "pretrain", "folder": "/r", "metrics": {"loss": 1.0}}
    assert "best" not in format_record(record, None)


def test_a_resumed_run_names_its_checkpoint_epoch_and_step(tmp_path, capsys):
    fresh = _fit(tmp_path / "first", epochs=1)
    assert "resumed_from" not in fresh and fresh["global_step"] == BATCHES
    assert "resumed from" not in capsys.readouterr().out
    saved = (tmp_path / "first" / "ep=0.ckpt").resolve()

    record = _fit(tmp_path / "again", epochs=3, ckpt_path=saved)
    out = capsys.readouterr().out
    line = f"e2mc-plugin linear: resumed from {saved} at epoch 1, global step {BATCHES}"
    assert line in out.splitlines()
    assert out.count("resumed from") == 1  # once, not at every epoch
    assert record["resumed_from"] == {"checkpoint": str(saved), "epoch": 1, "global_step": BATCHES}
    assert record["global_step"] == 3 * BATCHES  # epochs 1 and 2 trained after the resume
