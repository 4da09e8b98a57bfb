"""Exact resume at an epoch boundary through the Python API, on both hosts: a 3-epoch run
stopped after epoch 1's checkpoint and resumed (in a process whose random generators were moved
on meanwhile) ends with the very weights of the uninterrupted run, with and without loader
workers. The random states come back through the run-safety callbacks the plugin's
``callbacks_factory`` entry point adds (:mod:`e2mc_plugin.solo.launch.safety`); the same resume
from a checkpoint stripped of its random states ends elsewhere (the data's shuffling and
augmentations draw python, numpy and torch numbers every epoch)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from resume_data import NoisyImages, augment  # noqa: E402

E2MC = {"name": "e2mc", "beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}


class Stopped(Exception):
    """The run 'killed' right after epoch 1's checkpoint."""


def _saver(folder: Path, stop_after):
    """Saves ``ep=E.ckpt`` at each epoch end, as solo-learn's Checkpointer does; raises
    :class:`Stopped` after the save of epoch ``stop_after``."""
    from e2mc_plugin.solo.host import compat

    class SaveEachEpoch(compat.lightning().Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            trainer.save_checkpoint(folder / f"ep={trainer.current_epoch}.ckpt")
            if trainer.current_epoch == stop_after:
                raise Stopped

    return SaveEachEpoch()


def _fit(folder: Path, *, seed: int, workers: int, stop_after=None, ckpt=None):
    from e2mc_plugin.solo.api import build_method, fit, pretrain_loader
    from e2mc_plugin.testing.presets import tiny_cfg

    torch.manual_seed(seed)
    model = build_method(tiny_cfg("vicreg_aux", aux_losses=[E2MC]))
    loader = pretrain_loader(NoisyImages(), [augment, augment], batch_size=8, num_workers=workers)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fit(model, loader, max_epochs=3, seed=seed, callbacks=[_saver(folder, stop_after)],
            ckpt_path=ckpt, enable_progress_bar=False)  # fmt: skip
    except Stopped:
        return None
    return {k: v.clone() for k, v in model.state_dict().items()}


def _scramble() -> None:
    """Move every generator on, as a fresh process or other work would."""
    torch.manual_seed(12345)
    random.seed(12345)
    np.random.seed(12345)


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_stopped_after_epoch_1_and_resumed_ends_with_the_uninterrupted_weights(tmp_path, workers):
    from e2mc_plugin.resume.random_state import RANDOM_STATE_KEY

    whole = _fit(tmp_path / "whole", seed=7, workers=workers)
    assert _fit(tmp_path / "part", seed=7, workers=workers, stop_after=1) is None
    ckpt = tmp_path / "part" / "ep=1.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)  # what Lightning loads
    assert saved["epoch"] == 1 and RANDOM_STATE_KEY in saved

    _scramble()
    resumed = _fit(tmp_path / "resumed", seed=99, workers=workers, ckpt=str(ckpt))
    assert list(resumed) == list(whole)
    differ = [k for k in whole if not torch.equal(whole[k], resumed[k])]
    assert not differ, f"{len(differ)} tensors differ from the uninterrupted run, e.g. {differ[:3]}"

    # control: without the random states the same resume ends elsewhere
    del saved[RANDOM_STATE_KEY]
    torch.save(saved, tmp_path / "stripped.ckpt")
    _scramble()
    other = _fit(tmp_path / "other", seed=99, workers=workers, ckpt=str(tmp_path / "stripped.ckpt"))
    assert any(not torch.equal(whole[k], other[k]) for k in whole)
