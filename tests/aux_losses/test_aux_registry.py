"""Aux-loss registry: listing, building, errors, duplicates, entry-point discovery."""

import importlib.metadata
from types import SimpleNamespace

import pytest
import torch

from e2mc_plugin.aux_losses import (
    AUX_LOSSES,
    AuxLoss,
    build_aux_loss,
    list_aux_losses,
    register_aux_loss,
)
from e2mc_plugin.registry import DuplicateNameError, UnknownNameError

E2MC_KW = {"beta": 1000.0, "gamma": 100.0, "mapping": "sigmoid"}


@pytest.fixture
def isolated_registry(monkeypatch):
    """Registrations and entry-point loads made in a test are undone afterwards."""
    monkeypatch.setattr(AUX_LOSSES, "_entries", dict(AUX_LOSSES._entries))
    monkeypatch.setattr(AUX_LOSSES, "_sources", dict(AUX_LOSSES._sources))
    monkeypatch.setattr(AUX_LOSSES, "_entry_points_loaded", False)
    return AUX_LOSSES


class ToyLoss(AuxLoss):
    """A third-party loss: weight * mean of the first view."""

    def __init__(self, *, weight: float = 1.0, **common):
        super().__init__(**common)
        self.weight = weight

    def compute(self, views):
        term = views[0].mean()
        return {"loss": self.weight * term, "mean": term}


def test_builtin_losses_are_listed_and_filterable():
    assert {"e2mc", "vcreg", "auh", "mmcr"} <= set(list_aux_losses())
    assert list_aux_losses("e2*") == ["e2mc"]
    assert list_aux_losses() == sorted(list_aux_losses())


@pytest.mark.parametrize(
    "name,kwargs,cls_name",
    [
        ("e2mc", E2MC_KW, "E2MCLoss"),
        ("vcreg", {}, "VCRegLoss"),
        ("auh", {}, "AUHLoss"),
        ("mmcr", {}, "MMCRLoss"),
        ("E2MC", E2MC_KW, "E2MCLoss"),
    ],
)
def test_build_returns_the_registered_module(name, kwargs, cls_name):
    loss = build_aux_loss(name, **kwargs)
    assert type(loss).__name__ == cls_name and isinstance(loss, AuxLoss)
    assert loss.name == name.lower()


def test_unknown_name_lists_valid_names_and_close_match():
    with pytest.raises(UnknownNameError) as err:
        build_aux_loss("e2mcc", **E2MC_KW)
    msg = str(err.value)
    assert "Did you mean 'e2mc'" in msg
    for name in ("auh", "e2mc", "mmcr", "vcreg"):
        assert name in msg


def test_unknown_kwarg_is_a_type_error_naming_it_and_the_valid_ones():
    with pytest.raises(TypeError) as err:
        build_aux_loss("vcreg", mu=0.1, lambd=3)
    msg = str(err.value)
    assert "'lambd'" in msg and "mu, nu" in msg and "gather" in msg and "views" in msg


def test_missing_e2mc_coefficients_name_them_with_paper_values():
    with pytest.raises(TypeError) as err:
        build_aux_loss("e2mc", beta=1.0)
    msg = str(err.value)
    assert "'gamma'" in msg and "'mapping'" in msg and "'beta'" not in msg.split("(")[0]
    assert "VICReg beta=1000 gamma=100" in msg


def test_duplicate_registration_raises_and_keeps_the_original(isolated_registry):
    original = isolated_registry.get("e2mc")
    with pytest.raises(DuplicateNameError, match="already registered"):
        register_aux_loss("e2mc")(ToyLoss)
    with pytest.raises(DuplicateNameError):
        register_aux_loss("E2MC")(ToyLoss)
    assert isolated_registry.get("e2mc") is original


def test_decorator_registers_a_new_loss(isolated_registry):
    register_aux_loss("toy")(ToyLoss)
    loss = build_aux_loss("toy", weight=3.0, views="all")
    assert loss.name == "toy" and loss.views == "all"
    out = loss([torch.ones(4, 2)])
    assert float(out["loss"]) == 3.0
    # Its **common kwargs are checked against the base class signature.
    with pytest.raises(TypeError, match="'colour'"):
        build_aux_loss("toy", colour="red")


def _fake_entry_points(*eps):
    def entry_points(group=None, **_):
        return [ep for ep in eps if group == "e2mc_plugin.aux_losses"]

    return entry_points


def test_entry_point_group_is_discovered(isolated_registry, monkeypatch):
    ep = SimpleNamespace(name="toy_ep", value="toy_pkg.losses:ToyLoss", load=lambda: ToyLoss)
    monkeypatch.setattr(importlib.metadata, "entry_points", _fake_entry_points(ep))
    assert "toy_ep" in list_aux_losses()
    assert isinstance(build_aux_loss("toy_ep", weight=2.0), ToyLoss)


def test_entry_point_clashing_with_a_builtin_name_raises(isolated_registry, monkeypatch):
    ep = SimpleNamespace(name="mmcr", value="evil:Loss", load=lambda: ToyLoss)
    monkeypatch.setattr(importlib.metadata, "entry_points", _fake_entry_points(ep))
    with pytest.raises(DuplicateNameError, match="evil:Loss"):
        list_aux_losses()
