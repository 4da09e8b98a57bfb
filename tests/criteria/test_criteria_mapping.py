"""Mappings Psi: values against scipy, range, and the name lookup."""

import numpy as np
import pytest
import torch
from scipy import special, stats

from e2mc_plugin.criteria.mapping import MAPPINGS, gaussian_cdf, get_mapping, identity, sigmoid


def test_sigmoid_matches_scipy_expit():
    z = torch.linspace(-30, 30, 201, dtype=torch.float64).reshape(-1, 1)
    np.testing.assert_allclose(sigmoid(z).numpy(), special.expit(z.numpy()), rtol=1e-12, atol=0)


def test_gaussian_cdf_matches_scipy_norm_cdf():
    z = torch.linspace(-8, 8, 161, dtype=torch.float64).reshape(-1, 1)
    np.testing.assert_allclose(
        gaussian_cdf(z).numpy(), stats.norm.cdf(z.numpy()), rtol=1e-12, atol=1e-15
    )


def test_identity_returns_input_values():
    z = torch.rand(4, 3)
    assert torch.equal(identity(z), z)


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_mappings_land_in_unit_interval_and_upcast_half(name):
    z = torch.randn(64, 8).to(torch.bfloat16)
    if name == "identity":
        z = torch.rand(64, 8).to(torch.bfloat16)
    out = get_mapping(name)(z)
    assert out.dtype == torch.float32
    assert bool(((out >= 0) & (out <= 1)).all())


def test_get_mapping_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_mapping("tanh")
    for name in MAPPINGS:
        assert name in str(err.value)
