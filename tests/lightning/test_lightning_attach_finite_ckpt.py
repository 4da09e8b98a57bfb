"""attach_aux_losses: the deferred NaN/Inf check raises at Lightning's log points and at epoch
end; checkpoints save, load into the plain class, resume, and record the aux configuration;
the attached module pickles (ddp_spawn)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import lightning_models as lm  # noqa: E402

from e2mc_plugin.attach import AUX_RECORD_KEY  # noqa: E402
from e2mc_plugin.aux_losses import NonFiniteError  # noqa: E402
from e2mc_plugin.lightning import attach_aux_losses  # noqa: E402


def fit_nan(nan_batch, log_every, batches=3):
    """Fit 3 batches of 4 rows, NaN in one row of ``nan_batch``; (error, batches started)."""
    model = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    rec = lm.StepRecorder()
    data = torch.utils.data.DataLoader(
        lm.ViewsDataset(4 * batches, nan_rows=[4 * nan_batch]), batch_size=4, shuffle=False
    )
    trainer = lm.trainer(max_steps=batches, callbacks=[rec], log_every_n_steps=log_every)
    with pytest.raises(NonFiniteError) as err:
        trainer.fit(model, data)
    return str(err.value), rec.started


def test_deferred_nonfinite_raises_at_the_log_point_of_the_bad_batch():
    msg, started = fit_nan(nan_batch=0, log_every=1)
    assert started == [0]  # raised at batch 0's end, before batch 1 started
    assert "e2mc" in msg and "view 0" in msg
    # without a log point there, the next forward reports it (the loss's own deferred check)
    _, started = fit_nan(nan_batch=0, log_every=50)
    assert started == [0, 1]


def test_deferred_nonfinite_in_the_last_batch_raises_at_epoch_end():
    msg, started = fit_nan(nan_batch=2, log_every=50)
    assert started == [0, 1, 2] and "view 0 in 1 of the last 3 step(s)" in msg


def test_checkpoint_saves_loads_into_the_plain_class_and_resumes(tmp_path):
    model = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    trainer = lm.trainer(max_steps=1, root=str(tmp_path))
    trainer.fit(model, lm.loader())
    path = tmp_path / "one.ckpt"
    trainer.save_checkpoint(path)
    raw = torch.load(path, weights_only=False)
    assert raw[AUX_RECORD_KEY] == [lm.E2MC]
    plain = lm.TinySSL.load_from_checkpoint(path)  # strict: attaching added no tensors
    for (name, a), b in zip(model.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name

    resumed = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    rec = lm.StepRecorder()
    lm.trainer(max_steps=2, callbacks=[rec]).fit(resumed, lm.loader(), ckpt_path=str(path))
    assert rec.started == [1]  # continued with the second batch
    assert "train_aux/e2mc/entropy_step" in rec.metrics[0]

    other = [dict(lm.E2MC, beta=10.0)]
    changed = attach_aux_losses(lm.TinySSL(), other, embedding="projection_head")
    with pytest.raises(ValueError, match=r"aux_losses\[0\]\.beta: 2\.0 -> 10\.0"):
        lm.trainer(max_steps=2).fit(changed, lm.loader(), ckpt_path=str(path))
    forced = attach_aux_losses(
        lm.TinySSL(), other, embedding="projection_head", resume_aux_override=True
    )
    lm.trainer(max_steps=2).fit(forced, lm.loader(), ckpt_path=str(path))


def test_attached_module_pickles_with_its_aux_losses():
    model = attach_aux_losses(lm.TinySSL(), [lm.E2MC], embedding="projection_head")
    copy = pickle.loads(pickle.dumps(model))
    rec = lm.StepRecorder()
    lm.trainer(max_steps=1, callbacks=[rec]).fit(copy, lm.loader())
    assert "train_aux/e2mc/entropy_step" in rec.metrics[0]
    with pytest.raises(ValueError, match="already has aux losses attached"):
        attach_aux_losses(copy, [lm.E2MC], embedding="projection_head")
