"""What the Lightning adapter takes as views and specs, beyond the plain case.

* Only grad-enabled calls of the embedding module inside ``training_step`` are views: a call
  under ``torch.no_grad()`` / ``torch.inference_mode()`` (a monitor, a target) is not a crop.
* Specs are read once into plain Python: numpy scalars become numbers (the checkpoint then loads
  with ``weights_only=True``, as both Lightning versions resume), a generator is a list.
* A module that switches to manual optimization after attaching is refused at its first step.

References are computed by hand from the grad-enabled calls alone (float64, exact order).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import lightning_models as lm  # noqa: E402

from e2mc_plugin.attach import AUX_RECORD_KEY, ConfigError  # noqa: E402
from e2mc_plugin.aux_losses import build_aux_losses  # noqa: E402
from e2mc_plugin.lightning import attach_aux_losses  # noqa: E402


class MonitoredSSL(lm.TinySSL):
    """TinySSL whose step also calls the head without gradients: before the crops (a monitor
    under ``no_grad``, on view 1 scaled) and between them (a target under ``inference_mode``, on
    view 0 shifted). Neither call may become a view (taken as views, they change E2MC's terms:
    E2MC is symmetric in its views, so the extra calls are on other inputs)."""

    def training_step(self, batch, batch_idx):
        views, _ = batch
        with torch.no_grad():
            self.projection_head(self.backbone(3.0 * views[1]))
        first = self.projection_head(self.backbone(views[0]))
        with torch.inference_mode():
            self.projection_head(self.backbone(views[0] + 1.0))
        second = self.projection_head(self.backbone(views[1]))
        return self.host_loss([first, second])


def test_calls_without_gradients_are_not_views():
    model = attach_aux_losses(MonitoredSSL(), [lm.E2MC], embedding="projection_head")
    reference = MonitoredSSL().double()
    views = [v.double() for v in lm.ViewsDataset(16).batch(range(8))]
    z = [reference.projection_head(reference.backbone(v)) for v in views]
    expected = build_aux_losses([lm.E2MC])(z, z)
    rec = lm.StepRecorder()
    lm.trainer(max_steps=1, callbacks=[rec]).fit(model, lm.loader())
    step = rec.metrics[0]
    # float32 training against the float64 reference: the estimator's spacings amplify rounding
    # (criteria.md: 4e-5 to 2e-3 relative on gradients; values far less)
    for term in ("entropy", "covariance"):
        assert step[f"train_aux/e2mc/{term}_step"] == pytest.approx(
            float(expected[f"e2mc/{term}"]), rel=1e-4
        ), term
    host = float(MonitoredSSL.host_loss(z))
    assert float(rec.losses[0]) == pytest.approx(host + float(expected["loss"]), rel=1e-4)


def test_numpy_scalars_are_recorded_as_numbers_and_the_checkpoint_loads_safely(tmp_path):
    spec = {"name": "e2mc", "beta": np.float64(2.0), "gamma": np.float32(3.0),
            "mapping": np.str_("sigmoid"), "views": "large"}  # fmt: skip
    model = attach_aux_losses(lm.TinySSL(), [spec], embedding="projection_head")
    trainer = lm.trainer(max_steps=1, root=str(tmp_path))
    trainer.fit(model, lm.loader())
    path = tmp_path / "numpy.ckpt"
    trainer.save_checkpoint(path)
    record = torch.load(path, weights_only=True)[AUX_RECORD_KEY]  # raised before
    assert record == [{"name": "e2mc", "beta": 2.0, "gamma": 3.0, "mapping": "sigmoid",
                       "views": "large"}]  # fmt: skip
    assert [type(record[0][k]) for k in ("beta", "gamma", "mapping")] == [float, float, str]

    # the same values written as plain YAML numbers resume the run
    plain = dict(lm.E2MC, views="large")
    resumed = attach_aux_losses(lm.TinySSL(), [plain], embedding="projection_head")
    lm.trainer(max_steps=2, root=str(tmp_path)).fit(resumed, lm.loader(), ckpt_path=str(path))


def test_a_generator_of_specs_is_recorded_and_compared_as_its_list(tmp_path):
    model = attach_aux_losses(
        lm.TinySSL(), (dict(s) for s in [lm.E2MC]), embedding="projection_head"
    )
    rec = lm.StepRecorder()
    trainer = lm.trainer(max_steps=1, root=str(tmp_path), callbacks=[rec])
    trainer.fit(model, lm.loader())
    assert "train_aux/e2mc/loss_step" in rec.metrics[0]
    path = tmp_path / "gen.ckpt"
    trainer.save_checkpoint(path)
    assert torch.load(path, weights_only=True)[AUX_RECORD_KEY] == [lm.E2MC]

    same = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    lm.trainer(max_steps=2, root=str(tmp_path)).fit(same, lm.loader(), ckpt_path=str(path))
    without = attach_aux_losses(lm.TinySSL(), [], embedding="projection_head")
    with pytest.raises(ConfigError, match="differs from the checkpoint being resumed"):
        lm.trainer(max_steps=2, root=str(tmp_path)).fit(without, lm.loader(), ckpt_path=str(path))


class LateManualSSL(lm.TinySSL):
    """Switches to manual optimization in ``on_fit_start``, after the aux losses are attached."""

    def on_fit_start(self):
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        return loss


def test_manual_optimization_switched_on_after_attaching_is_refused_at_the_first_step():
    model = attach_aux_losses(LateManualSSL(), [lm.E2MC], embedding="projection_head")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="manual optimization.*after attach_aux_losses"):
        lm.trainer(max_steps=2).fit(model, lm.loader())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing ran

    plain = attach_aux_losses(LateManualSSL(), [], embedding="projection_head")
    lm.trainer(max_steps=1).fit(plain, lm.loader())  # no aux loss: nothing to apply, allowed
