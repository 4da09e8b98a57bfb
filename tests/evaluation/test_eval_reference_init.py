"""The reference probe classifier's initialization, N(0, 0.01^2) weights and zero bias
(``eval_linear.py`` ``RegLog``), checked statistically on 2 million weights with scipy: the sample
variance against its chi-square interval and the whole sample against N(0, 0.01^2) (KS).
PyTorch's default (U(+-1/sqrt(in)), std 1/sqrt(3 in) = 0.0128 at 2048 inputs) fails the same
checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from e2mc_plugin.evaluation.probe_head import PooledBNLinear, reference_init

stats = pytest.importorskip("scipy.stats")

ALPHA = 1e-6  # two-sided level of every check (fixed seeds: deterministic either way)


def _is_n0_001(weight: torch.Tensor) -> bool:
    """Mean, variance (chi-square interval) and distribution (KS) consistent with N(0, 0.01^2)."""
    w = weight.detach().double().flatten().numpy()
    n, sigma = w.size, 0.01
    mean_ok = abs(w.mean()) < stats.norm.ppf(1 - ALPHA / 2) * sigma / math.sqrt(n)
    q = float(np.sum(w**2)) / sigma**2  # chi-square with n degrees of freedom (known mean 0)
    var_ok = stats.chi2.ppf(ALPHA / 2, n) < q < stats.chi2.ppf(1 - ALPHA / 2, n)
    ks_ok = stats.kstest(w, stats.norm(0, sigma).cdf).pvalue > ALPHA
    return bool(mean_ok and var_ok and ks_ok)


def test_reference_init_draws_n_0_001_weights_and_a_zero_bias():
    torch.manual_seed(0)
    linear = reference_init(nn.Linear(2048, 1000))
    assert _is_n0_001(linear.weight)
    assert torch.count_nonzero(linear.bias) == 0


def test_pytorch_default_init_fails_the_same_check():
    torch.manual_seed(0)
    linear = nn.Linear(2048, 1000)
    assert not _is_n0_001(linear.weight)
    std = linear.weight.detach().double().std().item()
    assert std == pytest.approx(1 / math.sqrt(3 * 2048), rel=1e-2)  # U(+-1/sqrt(in))
    assert torch.count_nonzero(linear.bias) > 0


def test_the_res5_transfer_head_is_built_with_the_reference_init():
    torch.manual_seed(0)
    head = PooledBNLinear(512, 4, 1000)
    assert _is_n0_001(head.linear.weight)
    assert torch.count_nonzero(head.linear.bias) == 0
