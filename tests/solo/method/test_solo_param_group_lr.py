"""``param_group_lr``: a fixed, unscaled lr for one of the host's param groups (the reference
SimSiam predictor keeps lr 0.1 while the rest runs at 0.01 x base), on both hosts."""

from __future__ import annotations

import pytest
import torch

from e2mc_plugin.testing.data import synthetic_pretrain_loader
from e2mc_plugin.testing.presets import tiny_cfg

E2MC_SIMSIAM = {"name": "e2mc", "beta": 0.001, "gamma": 0.01, "mapping": "gaussian_cdf"}


def _build(**overrides):
    from e2mc_plugin.solo import api

    return api.build_method(tiny_cfg("simsiam", aux_losses=[E2MC_SIMSIAM], **overrides))


def _optimizer(model):
    opt = model.configure_optimizers()
    return opt[0][0] if isinstance(opt, tuple) else opt


def _lrs(opt, model):
    """(lr, is-the-predictor-group) per optimizer param group."""
    predictor = {id(p) for p in model.predictor.parameters()}
    return [(g["lr"], {id(p) for p in g["params"]} == predictor) for g in opt.param_groups]


def test_solo_param_group_lr_fixes_the_predictor_group_lr_in_the_optimizer():
    plain_model = _build()
    fixed_model = _build(param_group_lr={"predictor": 0.1})
    plain = _lrs(_optimizer(plain_model), plain_model)
    fixed = _lrs(_optimizer(fixed_model), fixed_model)
    assert [lr for lr, is_pred in fixed if is_pred] == [0.1]
    assert [lr for lr, is_pred in plain if is_pred] == [0.01]  # the host's optimizer.lr
    # every other group keeps the host's own lr
    assert [x for x in fixed if not x[1]] == [x for x in plain if not x[1]]


def test_solo_param_group_lr_unset_leaves_the_host_groups_unchanged():
    plain = _optimizer(_build())
    fixed = _optimizer(_build(param_group_lr={}))
    assert [g["lr"] for g in plain.param_groups] == [g["lr"] for g in fixed.param_groups]


def test_solo_param_group_lr_survives_training_steps():
    from e2mc_plugin.solo import api

    model = _build(param_group_lr={"predictor": 0.1})
    trainer = api.fit(model, synthetic_pretrain_loader(16), max_epochs=1, enable_progress_bar=False)
    predictor = {id(p) for p in model.predictor.parameters()}
    (opt,) = trainer.optimizers
    lrs = [g["lr"] for g in opt.param_groups if {id(p) for p in g["params"]} == predictor]
    assert lrs == [0.1] and trainer.global_step == 2


@pytest.mark.parametrize(
    "overrides, needles",
    [
        ({"param_group_lr": {"predictr": 0.1}}, ["param_group_lr.predictr", "no module"]),
        ({"param_group_lr": {"predictor": -1}}, ["param_group_lr.predictor", "positive"]),
        ({"param_group_lr": {"predictor.0": 0.1}}, ["param_group_lr.predictor.0", "param groups"]),
        ({"param_group_lr": [0.1]}, ["param_group_lr", "mapping"]),
        (
            {"param_group_lr": {"predictor": 0.1}, "scheduler.name": "warmup_cosine"},
            ["param_group_lr", "scheduler.name: none"],
        ),
    ],
    ids=["unknown-module", "negative", "not-a-group", "not-a-mapping", "scheduled"],
)
def test_solo_bad_param_group_lr_names_the_key(overrides, needles):
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError) as info:
        _build(**overrides)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_solo_param_group_lr_is_not_for_the_plain_host_class():
    from e2mc_plugin.solo import api
    from e2mc_plugin.solo.recipe.schema import ConfigError

    with pytest.raises(ConfigError, match="param_group_lr"):
        api.build_method(tiny_cfg("simsiam", param_group_lr={"predictor": 0.1}), wrap=False)


def test_solo_param_group_lr_predictor_weights_move_faster():
    """Same seed, same data: with the predictor at 10x the lr its weights move further."""
    from e2mc_plugin.solo import api

    def predictor_shift(**overrides):
        torch.manual_seed(0)
        model = _build(**overrides)
        before = [p.detach().clone() for p in model.predictor.parameters()]
        api.fit(
            model,
            synthetic_pretrain_loader(16),
            max_epochs=1,
            enable_progress_bar=False,
            seed=0,
        )
        return sum(
            (p - b).norm() for p, b in zip(model.predictor.parameters(), before, strict=True)
        )

    assert predictor_shift(param_group_lr={"predictor": 0.1}) > predictor_shift()
