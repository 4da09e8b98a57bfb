"""A wrapped method trained through the Python API, sent a signal by itself during epoch 1
(after its first batch), or resumed from a checkpoint; run by test_launch_stop_on_signal.py.

    python stop_worker.py FOLDER WRITER SIGNAL|sanity|resume [CKPT]

WRITER: ``solo`` (solo-learn's Checkpointer), ``lightning`` (ModelCheckpoint) or ``none``.
Prints ``steps N <the strategy's CheckpointIO class>`` when the fit returns.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

from e2mc_plugin.solo.api import build_method, fit
from e2mc_plugin.solo.host import compat
from e2mc_plugin.testing.data import synthetic_eval_loader, synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

torch.set_num_threads(1)
folder, writer, action = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
pl = compat.lightning()


class SignalInEpoch1(pl.Callback):
    """The signal after epoch 1's first batch, or (``sanity``) in the sanity check."""

    def on_train_batch_end(self, trainer, pl_module, *args):
        if action not in ("resume", "sanity") and trainer.current_epoch == 1:
            os.kill(os.getpid(), getattr(signal, action))

    def on_sanity_check_start(self, trainer, pl_module):
        if action == "sanity":
            os.kill(os.getpid(), signal.SIGTERM)


def checkpointer():
    if writer == "solo":
        from solo.utils.checkpointer import Checkpointer

        if compat.PROFILE.constructor == "cfg":  # the DictConfig API (solo-learn main)
            from omegaconf import OmegaConf

            return Checkpointer(OmegaConf.create({"name": "run"}), logdir=folder, frequency=1)
        from argparse import Namespace

        return Checkpointer(Namespace(name="run"), logdir=folder, frequency=1)
    return pl.callbacks.ModelCheckpoint(dirpath=str(folder), save_top_k=-1)


callbacks = [SignalInEpoch1()] + ([checkpointer()] if writer != "none" else [])
model = build_method(tiny_cfg("vicreg_aux"))
validation = {"val_loader": synthetic_eval_loader(16), "num_sanity_val_steps": 2}
trainer = fit(
    model, synthetic_pretrain_loader(16), max_epochs=3, callbacks=callbacks,
    enable_progress_bar=False, enable_checkpointing=writer == "lightning",
    ckpt_path=sys.argv[4] if action == "resume" else None,
    **(validation if action == "sanity" else {}),
)  # fmt: skip
print("steps", trainer.global_step, type(trainer.strategy.checkpoint_io).__name__, flush=True)
