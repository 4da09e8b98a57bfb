"""Constructor arguments: type, finiteness and sign checked; errors name loss and parameter."""

import math

import numpy as np
import pytest
import torch

from e2mc_plugin.aux_losses import InvalidParameterError, build_aux_loss

E2MC = {"beta": 1.0, "gamma": 1.0, "mapping": "sigmoid"}
DEFAULTS = {"e2mc": E2MC, "vcreg": {}, "auh": {}, "mmcr": {}}
COEFFICIENTS = {
    "e2mc": ["beta", "gamma", "eps"],
    "vcreg": ["mu", "nu"],
    "auh": ["weight", "t", "alignment_weight"],
    "mmcr": ["weight"],
}
CASES = [(name, param) for name, params in COEFFICIENTS.items() for param in params]


def build(name, **kwargs):
    return build_aux_loss(name, **{**DEFAULTS[name], **kwargs})


@pytest.mark.parametrize("name,param", CASES)
@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), -float("inf"), "abc", "1e3", True, None]
)
def test_non_finite_and_non_numeric_coefficients_name_the_parameter(name, param, bad):
    with pytest.raises(InvalidParameterError) as err:
        build(name, **{param: bad})
    assert f"{name}: {param} must be" in str(err.value) and repr(bad) in str(err.value)


@pytest.mark.parametrize("name,param", CASES)
def test_negative_coefficients_are_rejected(name, param):
    with pytest.raises(ValueError, match=f"{name}: {param} must be [>]"):
        build(name, **{param: -0.5})


def test_string_number_hint_and_exception_types():
    with pytest.raises(ValueError, match=r"e2mc: beta must be a real number, got 'abc'"):
        build("e2mc", beta="abc")
    with pytest.raises(TypeError, match="1.0e3"):  # also a TypeError
        build("e2mc", beta="1e3")


def test_valid_numbers_of_any_numeric_type_are_accepted():
    loss = build("e2mc", beta=np.float32(2.0), gamma=3, eps=0)
    assert (loss.beta, loss.gamma, loss.eps) == (2.0, 3.0, 0.0)
    assert isinstance(loss.beta, float)
    assert build("auh", t=0.5, weight=0.0).weight == 0.0
    with pytest.raises(ValueError, match="auh: t must be > 0"):
        build("auh", t=0.0)


@pytest.mark.parametrize("bad", [2.7, 3.0, "3", True, 0, -2])
def test_m_must_be_a_positive_integer(bad):
    with pytest.raises(InvalidParameterError, match="e2mc: m must be an integer"):
        build("e2mc", m=bad)


def test_m_accepts_integers():
    assert build("e2mc", m=np.int64(3)).m == 3 and build("e2mc", m=None).m is None


@pytest.mark.parametrize("name", DEFAULTS)
@pytest.mark.parametrize("bad", ["false", "true", 0, 1, None])
def test_gather_takes_only_real_bools(name, bad):
    with pytest.raises(InvalidParameterError, match=f"{name}: gather must be true or false"):
        build(name, gather=bad)
    assert build(name, gather=np.bool_(False)).gather is False


def test_center_flag_and_choices_name_the_parameter():
    with pytest.raises(ValueError, match="e2mc: center must be true or false"):
        build("e2mc", center="no")
    with pytest.raises(ValueError, match="vcreg: space must be one of"):
        build("vcreg", space=1)
    with pytest.raises(ValueError, match="mmcr: views must be one of 'large', 'all'"):
        build("mmcr", views="small")


@pytest.mark.parametrize("name", DEFAULTS)
def test_empty_embedding_d0_is_one_clear_error(name):
    loss = build(name)
    with pytest.raises(ValueError) as err:
        loss([torch.randn(16, 0), torch.randn(16, 0)])
    assert f"{name}: view 0: the embedding is empty (d = 0" in str(err.value)


@pytest.mark.parametrize("name", DEFAULTS)
def test_empty_batch_is_a_clear_error(name):
    with pytest.raises(ValueError, match=f"{name}: view 0: the batch is empty"):
        build(name)([torch.randn(0, 4), torch.randn(0, 4)])


def test_paper_coefficients_still_build():
    from e2mc_plugin.aux_losses.paper import PAPER_COEFFICIENTS

    for method, losses in PAPER_COEFFICIENTS.items():
        for name, kwargs in losses.items():
            loss = build_aux_loss(name, **kwargs)
            assert all(math.isfinite(getattr(loss, k)) for k in kwargs if k != "mapping"), method
