"""Every criterion computes in float32 under bf16 autocast (CPU) and for bf16 input."""

import pytest
import torch

from e2mc_plugin.criteria import (
    centroid_nuclear_norm,
    covariance_penalty,
    gaussian_cdf,
    marginal_entropy,
    sigmoid,
    uniformity,
    variance_hinge,
)

CASES = {
    "entropy": lambda x: marginal_entropy(gaussian_cdf(x)),
    "covariance_gram": lambda x: covariance_penalty(sigmoid(x), method="gram"),
    "covariance_dxd": lambda x: covariance_penalty(sigmoid(x), method="dxd"),
    "variance": variance_hinge,
    "uniformity": uniformity,
    "nuclear_norm": lambda x: centroid_nuclear_norm([x, x.flip(0)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bf16_autocast_equals_float32_computation(name):
    fn = CASES[name]
    torch.manual_seed(0)
    x = torch.randn(64, 48)
    ref = fn(x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        under_autocast = fn(x)
        from_bf16 = fn(x.to(torch.bfloat16))
    assert under_autocast.dtype == torch.float32
    assert torch.equal(under_autocast, ref)
    assert from_bf16.dtype == torch.float32
    assert torch.equal(from_bf16, fn(x.to(torch.bfloat16).float()))


def test_bf16_input_gradient_flows_back_in_bf16():
    x = torch.randn(32, 8).to(torch.bfloat16).requires_grad_(True)
    marginal_entropy(sigmoid(x)).sum().backward()
    assert x.grad.dtype == torch.bfloat16 and bool(torch.isfinite(x.grad).all())
