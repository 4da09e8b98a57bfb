"""AuxLossSet: labels, view routing, summed loss, empty set, autocast."""

import pytest
import torch

from e2mc_plugin.aux_losses import AuxLossSet, build_aux_loss, build_aux_losses

E2MC = {"name": "e2mc", "beta": 1000.0, "gamma": 100.0, "mapping": "sigmoid"}


def _views(n=32, d=8, v=4, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(n, d, generator=gen, dtype=dtype) for _ in range(v)]


def test_labels_keys_and_sum():
    aux = build_aux_losses([E2MC, {"name": "mmcr"}, dict(E2MC, beta=1.0, mapping="gaussian_cdf")])
    assert aux.labels == ["e2mc", "mmcr", "e2mc_2"] and len(aux) == 3
    assert aux.wants_all_views
    views = _views()
    out = aux(views[:2], views)
    for label, terms in [
        ("e2mc", ("entropy", "covariance")),
        ("mmcr", ("nuclear_norm",)),
        ("e2mc_2", ("entropy", "covariance")),
    ]:
        for term in ("loss",) + terms:
            assert f"{label}/{term}" in out
    total = out["e2mc/loss"] + out["mmcr/loss"] + out["e2mc_2/loss"]
    assert torch.allclose(out["loss"], total)


def test_each_member_gets_its_views():
    views = _views()
    aux = build_aux_losses([E2MC, {"name": "mmcr"}])
    out = aux(views[:2], views)
    alone = build_aux_loss("mmcr")(views)
    large_only = build_aux_loss("mmcr", views="large")(views[:2])
    assert torch.equal(out["mmcr/nuclear_norm"], alone["nuclear_norm"])
    assert not torch.allclose(out["mmcr/nuclear_norm"], large_only["nuclear_norm"])
    e2mc = build_aux_loss("e2mc", beta=1000.0, gamma=100.0, mapping="sigmoid")(views[:2])
    assert torch.equal(out["e2mc/loss"], e2mc["loss"])


def test_all_views_required_when_a_member_wants_them():
    aux = build_aux_losses([{"name": "mmcr"}])
    with pytest.raises(ValueError, match="all_views"):
        aux(_views()[:2])
    assert not build_aux_losses([E2MC]).wants_all_views
    build_aux_losses([E2MC])(_views()[:2])


def test_empty_set_gives_a_constant_zero():
    aux = build_aux_losses([])
    views = [v.requires_grad_(True) for v in _views(v=2)]
    out = aux(views, views)
    assert list(out) == ["loss"]
    assert float(out["loss"]) == 0.0 and not out["loss"].requires_grad
    assert out["loss"].device == views[0].device
    assert not aux.wants_all_views and len(AuxLossSet()) == 0


def test_spec_errors():
    with pytest.raises(TypeError, match="'name' key"):
        build_aux_losses([{"beta": 1.0}])
    with pytest.raises(TypeError, match="list of"):
        build_aux_losses(E2MC)
    with pytest.raises(TypeError, match="'betta'"):
        build_aux_losses([dict(E2MC, betta=2)])
    with pytest.raises(TypeError, match="must be an AuxLoss"):
        AuxLossSet([torch.nn.Linear(2, 2)])


def test_gradient_reaches_every_view_that_a_member_uses():
    views = [v.requires_grad_(True) for v in _views()]
    aux = build_aux_losses([E2MC, {"name": "mmcr"}])
    aux(views[:2], views)["loss"].backward()
    assert all(v.grad is not None and bool(torch.isfinite(v.grad).all()) for v in views)


@pytest.mark.parametrize(
    "spec",
    [
        E2MC,
        dict(E2MC, mapping="gaussian_cdf"),
        {"name": "vcreg"},
        {"name": "vcreg", "space": "projector"},
        {"name": "auh", "alignment_weight": 1.0},
        {"name": "mmcr"},
    ],
)
def test_bf16_autocast_and_bf16_input_equal_float32(spec):
    aux = build_aux_losses([spec])
    views = _views(n=64, d=96)
    ref = aux(views[:2], views)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        under = aux(views[:2], views)
        half = [v.to(torch.bfloat16) for v in views]
        from_half = aux(half[:2], half)
    ref_half = aux([v.float() for v in half[:2]], [v.float() for v in half])
    for key in ref:
        assert under[key].dtype == torch.float32 and torch.equal(under[key], ref[key]), key
        assert from_half[key].dtype == torch.float32
        assert torch.equal(from_half[key], ref_half[key]), key
