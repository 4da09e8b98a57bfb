"""lightly 1.6, really: VICReg, SimSiam and SwAV (multi-crop) modules written like lightly's
examples, with lightly's heads and losses, each train with E2MC attached in one call; the step's
loss and the SGD update equal a hand-computed reference (lightly's loss + E2MC on the projection
outputs, captured by an independent hook)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip(
    "lightly", reason="needs lightly 1.6 (requirements/host-1.0.6-no-deps.txt; CI's 1.0.6 host)"
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import lightly_models as lym  # noqa: E402
import lightning_models as lm  # noqa: E402

from e2mc_plugin.aux_losses import build_aux_losses  # noqa: E402
from e2mc_plugin.lightning import attach_aux_losses  # noqa: E402

E2MC = dict(lm.E2MC, beta=0.5, gamma=1.0)
CASES = {
    "vicreg": (lym.VICReg, (12, 12), [E2MC]),
    "simsiam": (lym.SimSiam, (12, 12), [E2MC]),
    "swav": (lym.SwaV, (12, 12, 6, 6), [dict(E2MC, views="all")]),
}


def reference(cls, sizes, specs):
    """lightly's loss + the aux loss on one batch, by hand; parameters after one SGD step."""
    model = cls()
    seen = []
    model.projection_head.register_forward_hook(lambda m, i, o: seen.append(o))
    batch = lym.CropsDataset(16, sizes).batch(range(8))
    loss = model.training_step(batch, 0)
    aux = build_aux_losses(specs)(seen[:2], seen)
    (loss + aux["loss"]).backward()
    after = {
        n: (p - model.lr * p.grad).detach()
        for n, p in model.named_parameters()
        if p.grad is not None
    }
    return float((loss + aux["loss"]).detach()), float(aux["loss"].detach()), after, len(seen)


@pytest.mark.parametrize("name", sorted(CASES))
def test_lightly_module_trains_with_e2mc_attached_in_one_call(name):
    cls, sizes, specs = CASES[name]
    total, aux, after, n_views = reference(cls, sizes, specs)
    assert n_views == len(sizes)
    model = attach_aux_losses(cls(), specs, embedding="projection_head")
    rec = lm.StepRecorder()
    lm.trainer(max_steps=1, callbacks=[rec]).fit(model, lym.crops_loader(sizes=sizes))
    assert float(rec.losses[0]) == pytest.approx(total, rel=1e-5)
    assert rec.metrics[0]["train_aux/loss_step"] == pytest.approx(aux, rel=1e-5)
    params = dict(model.named_parameters())
    for key, value in after.items():
        assert torch.allclose(params[key].detach(), value, rtol=1e-4, atol=1e-6), key
