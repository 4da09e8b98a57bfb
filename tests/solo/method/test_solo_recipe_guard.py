"""``RecipeGuard``: a plain host method carrying plugin blocks is refused before it trains, in a
real Lightning fit of a real solo-learn 1.0.6 VICReg."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

pytestmark = pytest.mark.host106

E2MC = {"name": "e2mc", "beta": 1000, "gamma": 100, "mapping": "sigmoid"}


def _plain_vicreg(**overrides):
    """The host's own VICReg built from a cfg that carries extra keys (as main_pretrain.py
    would build it from ``method: vicreg``): the host ignores them."""
    from e2mc_plugin.solo.host import compat

    return compat.instantiate(compat.host_methods()["vicreg"], tiny_cfg("vicreg", **overrides))


def _fit(model) -> bool:
    """Fit one step under the guard; whether any weight moved."""
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.method.guard import RecipeGuard

    before = {k: v.clone() for k, v in model.state_dict().items()}
    api.fit(
        model,
        synthetic_pretrain_loader(16),
        max_epochs=1,
        limit_train_batches=1,
        callbacks=[RecipeGuard()],
        enable_progress_bar=False,
    )
    after = model.state_dict()
    return any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "overrides,needles",
    [
        ({"aux_losses": [E2MC]}, ["'vicreg'", "aux_losses", "method: vicreg_aux"]),
        ({"pretrained": {"path": "/x.ckpt"}}, ["pretrained", "vicreg_aux"]),
        ({"param_group_lr": {"projector": 0.1}}, ["param_group_lr", "vicreg_aux"]),
        ({"aux_loss": [E2MC]}, ["aux_loss", "'aux_losses'"]),
        ({"method_kwargs.aux_losses": [E2MC]}, ["method_kwargs.aux_losses", "top level"]),
    ],
    ids=["aux_losses", "pretrained", "param_group_lr", "misspelled", "nested"],
)
def test_solo_guard_refuses_plain_method_with_plugin_blocks(overrides, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    model = _plain_vicreg(**overrides)
    assert type(model).__name__ == "VICReg"  # the host built it and ignored the blocks
    w = model.backbone.conv1.weight.detach().clone()
    with pytest.raises(ConfigError) as info:
        _fit(model)
    assert torch.equal(model.backbone.conv1.weight, w)  # refused before any step
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_solo_guard_lets_plain_and_wrapped_methods_train():
    from e2mc_plugin.solo import api

    assert _fit(_plain_vicreg(aux_losses=[], pretrained=None))
    assert _fit(api.build_method(tiny_cfg("vicreg_aux", aux_losses=[E2MC])))
