"""The wrapped method under Lightning DDP (2 CPU processes, gloo, ``ddp_spawn``, the host's
``find_unused_parameters=False``): the model pickles into fresh processes, the all-view fallback
projection and E2MC's global-batch gather run inside the DDP forward, and the logged aux terms
are finite and equal across ranks (``sync_dist``)."""

from __future__ import annotations

import math

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.host106
def test_solo_wrapped_vicreg_trains_under_ddp_spawn(tmp_path):
    from lightning.pytorch.strategies import DDPStrategy

    from e2mc_plugin.solo import api

    aux = [
        {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid", "gather": True},
        {"name": "mmcr", "weight": 0.005},  # all views: small crops projected by the wrapper
    ]
    cfg = tiny_cfg("vicreg", aux_losses=aux, **{"data.num_small_crops": 2})
    torch.manual_seed(0)
    model = api.build_method(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = synthetic_pretrain_loader(32, batch_size=8, num_small_crops=2)
    trainer = api.fit(
        model,
        loader,
        max_epochs=1,
        limit_train_batches=2,
        devices=2,
        strategy=DDPStrategy(start_method="spawn", find_unused_parameters=False),
        enable_progress_bar=False,
        default_root_dir=str(tmp_path),
    )
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for key in ("train_aux/loss", "train_aux/e2mc/entropy", "train_aux/mmcr/nuclear_norm"):
        assert key in metrics and math.isfinite(metrics[key]), (key, sorted(metrics))
    w = "backbone.conv1.weight"
    assert not torch.equal(model.state_dict()[w], before[w])  # weights came back trained
