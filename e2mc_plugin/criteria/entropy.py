"""m-spacings (Vasicek) estimator of the marginal entropy of each embedding dimension.

Source: paper eq. 3.2 and Algorithm 1; reference code ``m_spacings_estimator`` (deepc94/e2mc).

fp16: a collapsed (tied) column has spacings 0, so ``a = c s + eps = eps`` and the gradient
``c / ((n - m) a)`` is ~1e8 per unit weight: at E2MC's beta = 1000 it reaches ~1e5 on the
projector output, finite in float32 but inf once autograd casts it back to an fp16 input (the
authors' arithmetic has the same property). :func:`spacing_floor` gives, per input dtype, a floor
for ``a`` in the BACKWARD only: ``2^-10`` (fp16's machine epsilon: mapped values in [0, 1]
closer than that are ties at fp16 resolution) for float16, 0 (exact) otherwise. The value keeps
``log(a)`` exactly, the gradient keeps its direction (spread the tied values) and becomes bounded,
``|dH_j/dx| <= 2 c / ((n - m) 2^-10)``, and is unchanged wherever every ``a >= 2^-10``.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from e2mc_plugin.criteria.checks import check_spacings_batch, check_view
from e2mc_plugin.criteria.precision import float32_math

DEFAULT_EPS = 1e-7
_INT_VIEW = {torch.float32: torch.int32, torch.float64: torch.int64}
_SPACING_FLOOR = {torch.float16: torch.finfo(torch.float16).eps}


def spacing_floor(dtype: torch.dtype) -> float:
    """Backward floor of ``a = c s + eps`` for inputs of ``dtype``: 2^-10 for float16, else 0."""
    return _SPACING_FLOOR.get(dtype, 0.0)


def default_m(n: int) -> int:
    """Window of the estimator: ``m = round(sqrt(n))`` as in the reference code."""
    return int(round(math.sqrt(n)))


class _MSpacings(torch.autograd.Function):
    """Sort once; the backward scatters the spacing gradients through the saved permutation.

    For column j with order statistics X_(1) <= ... <= X_(n), spacings s_i = X_(i+m) - X_(i) and
    a_i = c s_i + eps, c = (n + 1) / m, i = 1..n-m; with w_i = c / ((n - m) a_i):
    dH/dX_(r) = w_{r-m} [r > m] - w_r [r <= n - m].
    One sort, one scatter, no autograd graph over the (n, d) intermediates.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, m: int, eps: float, nonnegative: bool, floor: float
    ) -> Tensor:
        n = x.shape[0]
        c = (n + 1) / m
        # Sorting rows of the transposed copy is contiguous and much faster on CPU than dim 0.
        xt = x.t().contiguous()
        if nonnegative and x.dtype in _INT_VIEW:
            # IEEE bit patterns of floats >= 0 sort like the floats; integer sorts are faster.
            keys, idx_t = torch.sort(xt.view(_INT_VIEW[x.dtype]), dim=1)
            sorted_t = keys.view(x.dtype)
        else:
            sorted_t, idx_t = torch.sort(xt, dim=1)
        del xt
        a = torch.sub(sorted_t[:, m:], sorted_t[:, : n - m]).mul_(c)  # (d, n - m)
        del sorted_t
        if eps:
            a.add_(eps)
        # log(c s + eps) stays near 0 for useful spacings: summing it (rather than log s + log c)
        # keeps the float32 sum accurate.
        h = torch.log(a).sum(dim=1).div_(n - m)
        ctx.save_for_backward(idx_t, a)
        ctx.c = c
        ctx.m = m
        ctx.floor = floor
        return h

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad_h: Tensor
    ) -> Tuple[Optional[Tensor], None, None, None, None]:
        idx_t, a = ctx.saved_tensors
        if ctx.floor:
            a = a.clamp_min(ctx.floor)
        m = ctx.m
        d, n = idx_t.shape
        k = n - m
        w = torch.div((grad_h * (ctx.c / k)).unsqueeze(1), a)  # (d, n - m)
        # g_r = w_{r-m} [r >= m] - w_r [r < n - m], written piecewise in one pass.
        g_sorted = torch.empty((d, n), dtype=a.dtype, device=a.device)
        lo, hi = min(m, k), max(m, k)
        torch.neg(w[:, :lo], out=g_sorted[:, :lo])
        if m < k:
            torch.sub(w[:, : k - m], w[:, m:k], out=g_sorted[:, m:k])
        else:
            g_sorted[:, k:m].zero_()
        g_sorted[:, hi:].copy_(w[:, hi - m :])
        grad_t = torch.empty_like(g_sorted).scatter_(1, idx_t, g_sorted)
        # Back to the (n, d) layout: a strided gradient makes autograd's accumulation with the
        # covariance gradient several times slower than this one copy.
        return grad_t.t().contiguous(), None, None, None, None


@float32_math
def marginal_entropy(
    x: Tensor,
    m: Optional[int] = None,
    eps: float = DEFAULT_EPS,
    nonnegative: bool = False,
    grad_floor: float = 0.0,
) -> Tensor:
    """Vasicek m-spacings entropy of each column; (n, d) -> (d,).

    ``H_j = 1/(n-m) * sum_{i=1}^{n-m} log((n+1)/m * (X_(i+m),j - X_(i),j) + eps)``, order statistics
    along the batch, ``m = round(sqrt(n))`` by default. Equals scipy's
    ``differential_entropy(x, method="vasicek")`` up to its boundary handling and bias constants.
    A collapsed column gives ``log(eps)``. ``nonnegative=True`` promises x >= 0 (e.g. the output
    of sigmoid / gaussian_cdf): the sort then runs on the float bit patterns as integers (same
    order, ~15% faster on CPU); a negative value would be mis-ordered. ``grad_floor``: floor of
    ``a`` in the backward only (see the module docstring and :func:`spacing_floor`; 0 = exact).
    Source: paper eq. 3.2 / Algorithm 1.
    """
    check_view(x)
    n = x.shape[0]
    m = default_m(n) if m is None else int(m)
    check_spacings_batch(n, m)
    return _MSpacings.apply(x, m, float(eps), bool(nonnegative), float(grad_floor))


def mean_marginal_entropy(x: Tensor, m: Optional[int] = None, eps: float = DEFAULT_EPS) -> Tensor:
    """Mean over dimensions of :func:`marginal_entropy`; (n, d) -> scalar (E2MC entropy term)."""
    return marginal_entropy(x, m=m, eps=eps).mean()
