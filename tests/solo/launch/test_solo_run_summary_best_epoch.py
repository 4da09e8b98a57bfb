"""The end-of-run summary of a probe / fine-tuning run gives the last AND the best ``val_acc1``
with its epoch (the reference reports ``best_acc1``): a real Lightning fit whose validations log
a known sequence, through the ``RunSummary`` callback, on either host's Lightning."""

from __future__ import annotations

import json

import pytest
import torch

ACC = [50.0, 70.0, 60.0, 70.0, 65.0]  # per epoch; best 70 first at epoch 1, last 65 at epoch 4
SANITY = 99.0  # logged during Lightning's sanity check: must not count


def _fit(tmp_path, epochs: int):
    from torch.utils.data import DataLoader, TensorDataset

    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.launch.callbacks import make_run_summary

    pl = compat.lightning()

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.lin(batch[0]).pow(2).mean()

        def validation_step(self, batch, batch_idx):
            acc = SANITY if self.trainer.sanity_checking else ACC[self.current_epoch]
            self.log("val_acc1", acc, on_epoch=True)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    summary = make_run_summary("linear")
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[summary],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        num_sanity_val_steps=1,
        default_root_dir=str(tmp_path),
    )
    loader = DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2)
    trainer.fit(Tiny(), loader, loader)
    return json.loads((tmp_path / "linear-metrics.json").read_text())


def test_summary_gives_last_and_best_val_acc1_with_epochs(tmp_path, capsys):
    record = _fit(tmp_path, len(ACC))
    assert record["val_acc1"] == {"last": 65.0, "last_epoch": 4, "best": 70.0, "best_epoch": 1}
    assert record["metrics"]["val_acc1"] == pytest.approx(65.0)  # the last, as before
    out = capsys.readouterr().out
    assert "val_acc1:          last 65 (epoch 4), best 70 (epoch 1; epochs from 0)" in out


def test_summary_without_validation_has_no_best(tmp_path):
    from e2mc_plugin.solo.launch.run_summary import BestEpoch, format_record

    assert BestEpoch().as_dict() is None
    record = {"command": "pretrain", "folder": "/r", "metrics": {"loss": 1.0}}
    assert "best" not in format_record(record, None)
