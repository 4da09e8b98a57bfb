"""The wrapper's Lightning hooks, observed from outside: the aux configuration recorded in the
checkpoint and compared on resume, the host loss on the progress bar, the deferred finiteness
checks at log points and epoch end."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("solo") is None, reason="needs a solo-learn host (1.0.2 or 1.0.6)"
)

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}


def _model(aux, **overrides):
    from e2mc_plugin.solo import api

    torch.manual_seed(0)
    return api.build_method(tiny_cfg("vicreg", aux_losses=aux, **overrides))


def _fit(model, epochs, **kwargs):
    from e2mc_plugin.solo import api

    kwargs.setdefault("enable_progress_bar", False)
    return api.fit(model, synthetic_pretrain_loader(16), max_epochs=epochs, **kwargs)


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of one epoch of VICReg + E2MC (beta 1000) and mmcr, saved by Lightning."""
    trainer = _fit(_model([E2MC, {"name": "mmcr"}]), 1, default_root_dir=str(tmp_path))
    path = tmp_path / "epoch1.ckpt"
    trainer.save_checkpoint(str(path))
    return path


def test_solo_checkpoint_records_the_aux_configuration(saved):
    from e2mc_plugin.solo.method.resume import AUX_RECORD_KEY

    ckpt = torch.load(saved, map_location="cpu", weights_only=False)
    assert ckpt[AUX_RECORD_KEY] == [E2MC, {"name": "mmcr"}]


def test_solo_resume_with_the_same_aux_losses_continues(saved, tmp_path):
    trainer = _fit(_model([E2MC, {"name": "mmcr"}]), 2, ckpt_path=str(saved))
    assert trainer.global_step == 4 and trainer.current_epoch == 2


@pytest.mark.parametrize(
    "aux,change",
    [
        ([dict(E2MC, beta=10), {"name": "mmcr"}], "aux_losses[0].beta: 1000 -> 10"),
        ([E2MC], "aux_losses[1]: removed {'name': 'mmcr'}"),
        ([], "aux_losses[0]: removed"),
    ],
    ids=["other-beta", "one-removed", "empty"],
)
def test_solo_resume_with_other_aux_losses_is_refused(saved, aux, change):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    model = _model(aux)
    with pytest.raises(ConfigError) as info:
        _fit(model, 2, ckpt_path=str(saved))
    msg = str(info.value)
    assert msg.startswith("aux_losses:") and change in msg and "resume_aux_override" in msg


def test_solo_resume_override_warns_and_continues(saved, caplog):
    model = _model([dict(E2MC, beta=10), {"name": "mmcr"}], resume_aux_override=True)
    with caplog.at_level(logging.WARNING, logger="e2mc_plugin.solo.method.mixin"):
        trainer = _fit(model, 2, ckpt_path=str(saved))
    assert trainer.global_step == 4
    assert any("aux_losses[0].beta: 1000 -> 10" in r.getMessage() for r in caplog.records)


def test_solo_progress_bar_shows_the_backpropagated_loss(loss_recorder_factory):
    rec = loss_recorder_factory()
    trainer = _fit(_model([E2MC]), 1, callbacks=[rec], enable_progress_bar=True)
    bar = trainer.progress_bar_metrics
    assert "train_aux/loss_step" in bar and "train_loss" in bar
    assert float(bar["train_loss"]) == pytest.approx(float(rec.losses[-1]), rel=1e-6)
    assert float(bar["train_loss"]) != pytest.approx(float(bar["train_aux/loss_step"]))


def test_solo_no_progress_bar_no_progress_bar_values():
    """Lightning reads each progress-bar value to the host every batch: without a bar, the
    wrapper puts none there (the per-term metrics are still logged)."""
    trainer = _fit(_model([E2MC]), 1)
    assert not any(k.startswith(("train_aux", "train_loss")) for k in trainer.progress_bar_metrics)
    assert "train_aux/e2mc/entropy" in trainer.callback_metrics


@pytest.mark.parametrize("every,expected", [(1, [1, 2, 2]), (2, [2, 2]), (4, [2])])
def test_solo_deferred_finite_check_runs_at_log_points_and_epoch_end(monkeypatch, every, expected):
    """2 steps: a check after every ``log_every_n_steps``-th step and one at the epoch end
    (recorded: the global step at each check)."""
    from e2mc_plugin.aux_losses import AuxLossSet

    calls = []

    def check(self):
        calls.append(model.trainer.global_step)

    monkeypatch.setattr(AuxLossSet, "raise_if_nonfinite", check, raising=False)
    model = _model([E2MC])
    _fit(model, 1, log_every_n_steps=every)
    assert calls == expected


def test_solo_deferred_finite_check_error_stops_the_fit(monkeypatch):
    from e2mc_plugin.aux_losses import AuxLossSet

    def check(self):
        raise FloatingPointError("aux loss 'e2mc': non-finite value in view 0")

    monkeypatch.setattr(AuxLossSet, "raise_if_nonfinite", check, raising=False)
    with pytest.raises(FloatingPointError, match="e2mc.*view 0"):
        _fit(_model([E2MC]), 1, log_every_n_steps=1)
