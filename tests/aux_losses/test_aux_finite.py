"""check_finite: deferred (default, no device-to-host read in the forward), eager, off."""

import copy
import pickle

import pytest
import torch

from e2mc_plugin.aux_losses import NonFiniteError, build_aux_loss, build_aux_losses

SPECS = [
    ("e2mc", {"beta": 1000.0, "gamma": 100.0, "mapping": "sigmoid"}),
    ("vcreg", {}),
    ("vcreg", {"space": "projector"}),
    ("auh", {"alignment_weight": 0.5}),
    ("mmcr", {}),
]
SYNC_METHODS = ("item", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def no_host_reads(monkeypatch):
    """Any Tensor -> Python number conversion (a device sync on a GPU) raises."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a tensor was read on the host during the forward")

    def arm():
        for name in SYNC_METHODS:
            monkeypatch.setattr(torch.Tensor, name, forbidden)

    yield arm
    monkeypatch.undo()


@pytest.mark.parametrize("name,kwargs", SPECS)
def test_default_forward_and_backward_read_nothing_on_the_host(name, kwargs, no_host_reads):
    loss = build_aux_loss(name, **kwargs)
    assert loss.check_finite == "deferred"
    views = [torch.randn(32, 16, requires_grad=True) for _ in range(3)]
    no_host_reads()
    for _ in range(2):
        out = loss(views)
        out["loss"].backward()
    assert all(isinstance(v, torch.Tensor) for v in out.values())


def test_nan_in_view_1_raises_from_raise_if_nonfinite_naming_loss_view_and_steps(
    no_host_reads,
):
    loss = build_aux_loss("e2mc", beta=1.0, gamma=1.0, mapping="sigmoid")
    good = [torch.randn(16, 4), torch.randn(16, 4)]
    bad = [good[0], good[1].clone()]
    bad[1][3, 2] = float("nan")
    loss(good)
    no_host_reads()
    loss(bad)  # no error, and no host read, in the step itself
    with pytest.raises(NonFiniteError) as err:
        loss.raise_if_nonfinite()
    msg = str(err.value)
    assert "e2mc" in msg and "view 1" in msg and "view 0" not in msg
    assert "1 of the last 2 step(s)" in msg
    assert isinstance(err.value, ValueError)
    loss.raise_if_nonfinite()  # reset: nothing left to report
    loss(good)
    loss.raise_if_nonfinite()


def test_deferred_error_surfaces_at_the_next_forward_without_the_explicit_call():
    loss = build_aux_loss("auh")
    bad = torch.randn(8, 3)
    bad[0, 0] = float("inf")
    loss([torch.randn(8, 3), bad])
    with pytest.raises(NonFiniteError, match="auh: .*view 1 in 1 of the last 1 step"):
        loss([torch.randn(8, 3), torch.randn(8, 3)])


def test_non_finite_loss_from_finite_inputs_is_reported_naming_the_loss():
    # vcreg on the raw projector output: |z| ~ 1e20 overflows float32 in the covariance.
    z = [torch.randn(16, 8) * 1e20 for _ in range(2)]
    deferred = build_aux_loss("vcreg", space="projector")
    out = deferred(z)
    assert not bool(torch.isfinite(out["loss"]))
    with pytest.raises(NonFiniteError, match="vcreg: the loss was not finite in 1 of the last 1"):
        deferred.raise_if_nonfinite()
    with pytest.raises(NonFiniteError, match="vcreg: the loss is not finite"):
        build_aux_loss("vcreg", space="projector", check_finite=True)(z)


def test_eager_raises_in_the_step_and_off_lets_nan_propagate():
    bad = torch.randn(16, 4)
    bad[0, 0] = float("nan")
    for value in (True, "eager"):
        loss = build_aux_loss("mmcr", check_finite=value)
        assert loss.check_finite == "eager"
        with pytest.raises(NonFiniteError, match="mmcr: view 0 has non-finite values"):
            loss([bad, bad])
    off = build_aux_loss("vcreg", check_finite=False)
    out = off([bad, bad])
    assert not bool(torch.isfinite(out["loss"]))
    off.raise_if_nonfinite()  # off: nothing recorded


@pytest.mark.parametrize("value", ["false", "true", "False", 0, 1, None, "lazy"])
def test_check_finite_accepts_exactly_the_documented_values(value):
    with pytest.raises(ValueError) as err:
        build_aux_loss("vcreg", check_finite=value)
    msg = str(err.value)
    assert "vcreg: check_finite" in msg and "'deferred'" in msg and "'eager'" in msg


def test_set_raise_names_the_member_label():
    aux = build_aux_losses([{"name": "vcreg"}, {"name": "vcreg", "mu": 1.0}])
    good = [torch.randn(8, 4), torch.randn(8, 4)]
    bad = [good[0], good[1].clone()]
    bad[1][1, 1] = float("nan")
    aux(good)
    aux.raise_if_nonfinite()
    aux.losses["vcreg_2"](bad)
    with pytest.raises(NonFiniteError, match="aux loss 'vcreg_2': vcreg: .*view 1"):
        aux.raise_if_nonfinite()


def test_losses_with_recorded_flags_copy_and_pickle():
    """A loss whose deferred check holds a record copies and pickles (DDP spawn, checkpoints of
    the module) into an independent loss: same values, the record carried over and kept apart."""
    loss = build_aux_loss("vcreg")
    good = [torch.randn(8, 4), torch.randn(8, 4)]
    loss(good)  # one step recorded
    clone = pickle.loads(pickle.dumps(copy.deepcopy(loss)))
    out, ref = clone(good), loss(good)
    assert out.keys() == ref.keys()
    for key in ref:
        assert torch.equal(out[key], ref[key]), key
    bad = [good[0], good[1].clone()]
    bad[1][0, 0] = float("nan")
    clone(bad)
    with pytest.raises(NonFiniteError, match=r"view 1 in 1 of the last 3 step\(s\)"):
        clone.raise_if_nonfinite()  # the copied step, the clone's good one, its bad one
    loss.raise_if_nonfinite()  # the original's record is its own: the NaN never reached it
    loss(bad)
    with pytest.raises(NonFiniteError, match=r"view 1 in 1 of the last 3 step\(s\)"):
        loss.raise_if_nonfinite()
