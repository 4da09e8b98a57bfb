"""No checkpoint with non-finite weights is ever written: with the default deferred finiteness
check, NaN crops in the LAST batch of an epoch must not let solo-learn's ``Checkpointer`` or
Lightning's ``ModelCheckpoint`` (callbacks that run before the module's epoch-end check) save the
NaN weights and delete the last good checkpoint. A real 2-epoch fit of the tiny VICReg + E2MC."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from e2mc_plugin.criteria.checks import NonFiniteError
from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}
STEPS_PER_EPOCH = 2  # 16 samples, batch 8


def _nan_in_last_batch(pl):
    """Fills crop 0 of the last batch of epoch 1 (the second) with NaN, in place."""

    class NaNCrops(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx, *args):
            if trainer.current_epoch == 1 and batch_idx == STEPS_PER_EPOCH - 1:
                batch[1][0].fill_(float("nan"))

    return NaNCrops()


def _solo_checkpointer(logdir: Path):
    from solo.utils.checkpointer import Checkpointer

    from e2mc_plugin.solo.host import compat

    if compat.PROFILE.constructor == "cfg":  # 1.0.6: a DictConfig with the run name
        from omegaconf import OmegaConf

        return Checkpointer(OmegaConf.create({"name": "tiny"}), logdir=logdir)
    from argparse import Namespace  # 1.0.2: argparse arguments

    return Checkpointer(Namespace(name="tiny"), logdir=logdir)


def _lightning_checkpoint(logdir: Path, pl):
    # keeps only the newest file: each new save deletes the previous one
    return pl.callbacks.ModelCheckpoint(dirpath=str(logdir), save_top_k=1, every_n_epochs=1)


def _all_finite(path: Path) -> bool:
    state = torch.load(str(path), map_location="cpu", weights_only=False)["state_dict"]
    return all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point())


@pytest.mark.parametrize("writer", ["solo_checkpointer", "lightning_model_checkpoint"])
def test_solo_nan_in_last_batch_keeps_the_last_good_checkpoint(tmp_path, writer):
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.host import compat

    pl = compat.lightning()
    torch.manual_seed(0)
    model = api.build_method(tiny_cfg("vicreg", aux_losses=[E2MC]))
    saver = (
        _solo_checkpointer(tmp_path)
        if writer == "solo_checkpointer"
        else _lightning_checkpoint(tmp_path, pl)
    )
    with pytest.raises(NonFiniteError) as info:
        api.fit(
            model,
            synthetic_pretrain_loader(8 * STEPS_PER_EPOCH),
            max_epochs=2,
            enable_progress_bar=False,
            log_every_n_steps=50,  # no log point inside an epoch: only the epoch-end checks
            enable_checkpointing=writer != "solo_checkpointer",  # else a 2nd writer
            callbacks=[_nan_in_last_batch(pl), saver],
            default_root_dir=str(tmp_path),
        )
    written = sorted(tmp_path.rglob("*.ckpt"))
    assert len(written) == 1, written  # the epoch-0 file, never replaced
    assert ("ep=0" in written[0].name) or ("epoch=0" in written[0].name), written
    assert _all_finite(written[0])
    message = str(info.value)
    assert "epoch 1" in message and f"step {2 * STEPS_PER_EPOCH}" in message, message
    assert "e2mc" in message and "view 0" in message, message
