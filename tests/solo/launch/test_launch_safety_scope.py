"""The run-safety callbacks the ``callbacks_factory`` entry point adds to every Trainer act only
in runs of ours: a plain LightningModule trained in the same environment keeps Lightning's own
``TorchCheckpointIO``, its checkpoints hold no random states and SIGTERM stays Lightning's."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from tiny_lightning import tiny_module_class  # noqa: E402


def test_a_plain_module_outside_the_launcher_is_left_alone(tmp_path, monkeypatch):
    from e2mc_plugin.resume.random_state import RANDOM_STATE_KEY
    from e2mc_plugin.solo.host import compat
    from e2mc_plugin.solo.launch.callbacks import SUMMARY_ENV, factory

    pl = compat.lightning()
    monkeypatch.delenv(SUMMARY_ENV, raising=False)

    Plain = tiny_module_class(pl)

    before = signal.getsignal(signal.SIGUSR1)
    seen = {}

    class Look(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            seen["io"] = type(trainer.strategy.checkpoint_io).__name__
            seen["usr1"] = signal.getsignal(signal.SIGUSR1)

    trainer = pl.Trainer(
        max_epochs=1, callbacks=[Look(), *factory()], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1,
    )  # fmt: skip
    trainer.fit(Plain(), DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4))
    trainer.save_checkpoint(tmp_path / "plain.ckpt")
    assert seen == {"io": "TorchCheckpointIO", "usr1": before}
    assert RANDOM_STATE_KEY not in torch.load(tmp_path / "plain.ckpt", weights_only=True)
