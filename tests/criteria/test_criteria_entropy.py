"""m-spacings entropy: independent references, closed forms, gradients, robustness, errors."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special
from scipy.stats import differential_entropy

from e2mc_plugin.criteria.entropy import default_m, marginal_entropy, mean_marginal_entropy


def numpy_loop_entropy(x: np.ndarray, m: int, eps: float) -> np.ndarray:
    """Float64 re-computation, one column and one spacing at a time."""
    n, d = x.shape
    out = np.zeros(d)
    for j in range(d):
        col = sorted(float(v) for v in x[:, j])
        acc = 0.0
        for i in range(n - m):
            acc += math.log((n + 1) / m * (col[i + m] - col[i]) + eps)
        out[j] = acc / (n - m)
    return out


def plain_sort_entropy(x: torch.Tensor, m: int, eps: float) -> torch.Tensor:
    """Algorithm 1 as written (sort values, autograd through torch.sort)."""
    n = x.shape[0]
    s, _ = torch.sort(x, dim=0)
    return torch.log((n + 1) / m * (s[m:] - s[: n - m]) + eps).sum(dim=0) / (n - m)


@pytest.mark.parametrize("n,d,m", [(50, 3, None), (37, 4, 3), (10, 2, 1), (3, 2, None)])
def test_entropy_matches_float64_numpy_loops(n, d, m):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    m_eff = default_m(n) if m is None else m
    got = marginal_entropy(x, m=m, eps=1e-7)
    np.testing.assert_allclose(got.numpy(), numpy_loop_entropy(x.numpy(), m_eff, 1e-7), rtol=1e-12)


def test_default_window_is_rounded_sqrt_of_batch():
    assert [default_m(n) for n in (2, 4, 10, 256, 512, 1024)] == [1, 2, 3, 16, 23, 32]


@pytest.mark.parametrize("n,half_window", [(200, 5), (64, 4), (31, 2)])
def test_entropy_equals_scipy_vasicek_up_to_constants_and_boundary_terms(n, half_window):
    # scipy (window w): H_sc = 1/n sum_{i=1}^n log(n/(2w) (X_(min(i+w,n)) - X_(max(i-w,1)))).
    # Its n - 2w interior terms are our n - m spacings with m = 2w, scaled n/m instead of (n+1)/m;
    # the 2w boundary terms use truncated windows. Hence, with eps = 0:
    # H_ours = (n H_sc - B) / (n - m) + log((n + 1) / n).
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    m = 2 * half_window
    ours = marginal_entropy(x, m=m, eps=0.0).numpy()
    for j in range(3):
        col = np.sort(x[:, j].numpy())
        h_sc = differential_entropy(col, window_length=half_window, method="vasicek")
        lo = [np.log(n / m * (col[i + half_window] - col[0])) for i in range(half_window)]
        hi = [np.log(n / m * (col[-1] - col[i - half_window])) for i in range(n - half_window, n)]
        boundary = sum(lo) + sum(hi)
        expected = (n * h_sc - boundary) / (n - m) + np.log((n + 1) / n)
        assert ours[j] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_uniform_entropy_matches_its_closed_form_expectation_and_approaches_zero():
    # For Uniform[0,1], X_(i+m) - X_(i) ~ Beta(m, n + 1 - m), so with eps = 0 every term has
    # expectation E[H] = log((n + 1) / m) + digamma(m) - digamma(n + 1) -> 0 as n grows.
    torch.manual_seed(0)
    expectations = []
    for n in (100, 400, 1600):
        m = default_m(n)
        h = marginal_entropy(torch.rand(n, 1000, dtype=torch.float64), eps=0.0)
        expected = math.log((n + 1) / m) + special.digamma(m) - special.digamma(n + 1)
        stderr = float(h.std()) / math.sqrt(h.numel())
        assert abs(float(h.mean()) - expected) < 5 * stderr
        expectations.append(expected)
    assert expectations[0] < expectations[1] < expectations[2] < 0
    assert abs(expectations[-1]) < 0.015


def test_collapsed_dimension_gets_log_eps():
    x = torch.rand(64, 3)
    x[:, 1] = 0.25
    h = marginal_entropy(x, eps=1e-7)
    assert float(h[1]) == pytest.approx(math.log(1e-7), rel=1e-6)
    assert float(h[1]) < float(h[0]) - 10


def test_mean_helper_is_mean_over_dimensions():
    x = torch.rand(40, 5)
    assert torch.allclose(mean_marginal_entropy(x), marginal_entropy(x).mean())


def test_gradcheck_float64():
    x = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: marginal_entropy(t, m=4, eps=1e-7), (x,))


def test_float32_value_and_gradient_match_plain_sort_autograd():
    torch.manual_seed(1)
    x = torch.rand(128, 64, requires_grad=True)
    w = torch.randn(64)
    (marginal_entropy(x) * w).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    ref = plain_sort_entropy(x, default_m(128), 1e-7)
    (ref * w).sum().backward()
    assert torch.allclose(marginal_entropy(x), ref, rtol=1e-6, atol=1e-6)
    assert torch.allclose(ours, x.grad, rtol=1e-5, atol=1e-6 * float(x.grad.abs().max()))


def test_non_contiguous_input_gives_same_result():
    x = torch.rand(33, 40)
    assert torch.allclose(marginal_entropy(x.t().contiguous().t()), marginal_entropy(x))
    assert torch.allclose(marginal_entropy(x[:, ::2]), marginal_entropy(x[:, ::2].contiguous()))


@pytest.mark.parametrize("n,m", [(1, None), (5, 5), (5, 9)])
def test_batch_not_larger_than_window_raises_with_advice(n, m):
    with pytest.raises(ValueError) as err:
        marginal_entropy(torch.rand(n, 3), m=m)
    msg = str(err.value)
    assert f"n={n}" in msg and "m=" in msg and "gather=True" in msg and "larger batch" in msg


def test_window_below_one_raises():
    with pytest.raises(ValueError, match="m must be >= 1"):
        marginal_entropy(torch.rand(10, 3), m=0)


def test_wrong_rank_raises():
    with pytest.raises(ValueError, match="2-D"):
        marginal_entropy(torch.rand(10, 3, 2))


_columns = st.lists(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, -1e30, 3.0]), min_size=8, max_size=8
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(_columns, min_size=2, max_size=4),
    scale=st.sampled_from([1.0, 1e-20, 1e20]),
)
def test_ties_constants_and_huge_magnitudes_give_finite_values_and_gradients(data, scale):
    x = (torch.tensor(data, dtype=torch.float32).t() * scale).contiguous().requires_grad_(True)
    # Map to [0, 1] first, as E2MC does: raw 1e30-spacings overflow log only beyond float range.
    h = marginal_entropy(torch.sigmoid(x))
    h.sum().backward()
    assert bool(torch.isfinite(h).all())
    assert bool(torch.isfinite(x.grad).all())


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=6, max_size=24))
def test_raw_values_with_ties_give_finite_values_and_gradients(values):
    x = torch.tensor(values, dtype=torch.float32).reshape(-1, 1).requires_grad_(True)
    h = marginal_entropy(x)
    h.sum().backward()
    assert bool(torch.isfinite(h).all()) and bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nonnegative_integer_sort_path_matches_float_sort(dtype):
    x = torch.sigmoid(3 * torch.randn(200, 16, dtype=dtype))
    x[::7, 0] = 0.0
    x[3, 0] = -0.0
    x[::5, 1] = x[0, 1]  # ties
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    w = torch.randn(16, dtype=dtype)
    ha = marginal_entropy(a, nonnegative=True)
    hb = marginal_entropy(b)
    (ha * w).sum().backward()
    (hb * w).sum().backward()
    assert torch.equal(ha, hb)
    # Tied values may swap ranks: the same gradient values, permuted among the tied rows.
    assert torch.equal(a.grad.sort(dim=0).values, b.grad.sort(dim=0).values)
    assert torch.equal(a.grad[:, 2:], b.grad[:, 2:])


def test_fp16_spacing_floor_bounds_the_gradient_and_keeps_the_value():
    from e2mc_plugin.criteria.entropy import spacing_floor

    assert spacing_floor(torch.float16) == 2.0**-10
    assert spacing_floor(torch.bfloat16) == spacing_floor(torch.float32) == 0.0
    n, m = 64, 8
    x = torch.rand(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[:, 1] = 0.5  # a tied column
    exact = x.clone().requires_grad_(True)
    floored = x.clone().requires_grad_(True)
    h_exact = marginal_entropy(exact, m=m)
    h_floor = marginal_entropy(floored, m=m, grad_floor=2.0**-10)
    assert torch.equal(h_exact, h_floor)  # the value is never changed
    h_exact.sum().backward()
    h_floor.sum().backward()
    c, k = (n + 1) / m, n - m
    assert float(floored.grad.abs().max()) <= 2 * c / (k * 2.0**-10) * (1 + 1e-12)
    assert float(exact.grad[:, 1].abs().max()) > 1e6  # ~c / (k eps) without the floor
    # columns whose every a = c s + eps >= the floor keep the exact gradient
    s = x[:, [0, 2]].sort(dim=0).values
    assert float((c * (s[m:] - s[:-m])).min()) >= 2.0**-10
    assert torch.equal(floored.grad[:, [0, 2]], exact.grad[:, [0, 2]])
