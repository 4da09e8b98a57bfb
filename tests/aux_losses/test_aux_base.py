"""AuxLoss base behaviour through the built-in losses: views, gather flag, input validation."""

import pytest
import torch

from e2mc_plugin.aux_losses import NonFiniteError, build_aux_loss, build_aux_losses

E2MC_KW = {"beta": 1.0, "gamma": 1.0, "mapping": "gaussian_cdf"}


def test_default_views_and_override():
    assert build_aux_loss("e2mc", **E2MC_KW).views == "large"
    assert build_aux_loss("mmcr").views == "all"
    assert build_aux_loss("mmcr", views="large").views == "large"
    assert build_aux_loss("vcreg").gather is False


def test_invalid_views_value_raises():
    with pytest.raises(ValueError, match="views must be one of 'large', 'all'"):
        build_aux_loss("auh", views="small")


@pytest.mark.parametrize(
    "name,kwargs", [("e2mc", E2MC_KW), ("vcreg", {}), ("auh", {}), ("mmcr", {})]
)
def test_bad_inputs_raise_clear_errors(name, kwargs):
    loss = build_aux_loss(name, check_finite=True, **kwargs)
    with pytest.raises(ValueError, match="2-D"):
        loss([torch.randn(16, 4, 2)])
    with pytest.raises(ValueError, match=r"view 0 is \(16, 4\), view 1 is \(8, 4\)"):
        loss([torch.randn(16, 4), torch.randn(8, 4)])
    bad = torch.randn(16, 4)
    bad[3, 1] = float("nan")
    with pytest.raises(NonFiniteError, match=f"{name}: view 1 has non-finite values"):
        loss([torch.randn(16, 4), bad])
    with pytest.raises(ValueError, match="empty"):
        loss([])


def test_check_finite_false_lets_nan_propagate():
    bad = torch.randn(16, 4)
    bad[0, 0] = float("nan")
    out = build_aux_loss("e2mc", check_finite=False, **E2MC_KW)([bad, bad])
    assert not bool(torch.isfinite(out["loss"]))


def test_too_small_batch_explains_the_fix():
    loss = build_aux_loss("e2mc", m=4, **E2MC_KW)
    with pytest.raises(ValueError) as err:
        loss([torch.randn(4, 3), torch.randn(4, 3)])
    assert "n=4" in str(err.value) and "m=4" in str(err.value) and "gather=True" in str(err.value)
    with pytest.raises(ValueError, match="n=1"):
        build_aux_loss("e2mc", **E2MC_KW)([torch.randn(1, 3)])


@pytest.mark.parametrize(
    "name,kwargs",
    [("e2mc", E2MC_KW), ("vcreg", {}), ("auh", {"alignment_weight": 1.0}), ("mmcr", {})],
)
def test_forward_keys_are_loss_plus_declared_terms(name, kwargs):
    loss = build_aux_loss(name, **kwargs)
    out = loss([torch.randn(16, 4), torch.randn(16, 4)])
    assert "loss" in out and set(out) - {"loss"} <= set(loss.term_names)


def test_omegaconf_specs_are_accepted():
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create(
        {"aux_losses": [dict(name="e2mc", **E2MC_KW), {"name": "mmcr", "weight": 0.005}]}
    )
    aux = build_aux_losses(cfg.aux_losses)
    assert aux.labels == ["e2mc", "mmcr"] and aux.losses["mmcr"].weight == 0.005
