"""Off-diagonal covariance penalty of one view, with a Gram-matrix path that never builds d x d.

Source: paper eq. 3.3 (covariance term of E2MC) and official VICReg ``off_diagonal(cov).pow(2)
.sum() / d``; reference code ``get_cov_loss``. Identity: ||X^T X||_F^2 = ||X X^T||_F^2.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from e2mc_plugin.criteria.checks import check_min_rows, check_view
from e2mc_plugin.criteria.precision import float32_math

METHODS = ("auto", "gram", "dxd")


def _off_diagonal(c: Tensor) -> Tensor:
    """The d (d - 1) off-diagonal entries of a square matrix, as a view-friendly 1-D tensor."""
    d = c.shape[0]
    return c.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def _offdiag_sq_sum_dxd(xc: Tensor) -> Tensor:
    """sum_{j != k} (X^T X)_jk^2 via the d x d matrix: n d^2 flops, d^2 memory (best if n >= d)."""
    return _off_diagonal(xc.t() @ xc).square().sum()


class _OffDiagSqSumGram(torch.autograd.Function):
    """sum_{j != k} (X^T X)_jk^2 = ||X X^T||_F^2 - sum_j ||X_:,j||^4: n^2 d flops, n^2 memory.

    Gradient: 4 (X X^T X - X diag(||X_:,j||^2)), one n x n by n x d product.

    With ``reduce_sum`` (sharding, :mod:`~e2mc_plugin.criteria.sharding`), X is this rank's
    block of columns X_B and the result is its share ``<G_r, G> - sum_{j in B} |X_j|^4`` with
    ``G_r = X_B X_B^T`` and ``G = reduce_sum(G_r)`` (one n x n all-reduce); the backward is the
    whole sum's gradient on this block, ``4 (G X_B - X_B diag |X_j|^2)`` (autograd of
    ``X_B X_B^T`` would take two products, and miss the factor 2 that G's dependence on this
    block through the other ranks' shares adds). ``clamp``: clamp the value at 0 (the
    difference can round below 0 only when it is ~0; a share may be negative).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, xb: Tensor, reduce_sum: Optional[Callable[[Tensor], Tensor]], clamp: bool
    ) -> Tensor:
        g_r = xb @ xb.t()  # (n, n)
        g = g_r if reduce_sum is None else reduce_sum(g_r)
        col_sq = xb.square().sum(dim=0)  # (d,); faster than vector_norm along dim 0 on CPU
        ctx.save_for_backward(xb, g, col_sq)
        total = (g_r * g).sum() - col_sq.square().sum()
        return total.clamp_min(0.0) if clamp else total

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, None, None]:  # type: ignore[override]
        xb, g, col_sq = ctx.saved_tensors
        out = torch.addcmul(g @ xb, xb, col_sq, value=-1.0)
        return out.mul_(4.0 * grad), None, None


def offdiag_sq_sum_gram(
    xc: Tensor, reduce_sum: Optional[Callable[[Tensor], Tensor]] = None
) -> Tensor:
    """``sum_{j != k} (Xc^T Xc)_jk^2`` through the n x n Gram (clamped at 0), or with
    ``reduce_sum`` this block's share of it (see :class:`_OffDiagSqSumGram`)."""
    return _OffDiagSqSumGram.apply(xc, reduce_sum, reduce_sum is None)


@float32_math
def covariance_penalty(x: Tensor, method: str = "auto", centered: bool = False) -> Tensor:
    """Off-diagonal covariance penalty of one view; (n, d) -> scalar.

    ``C = Xc^T Xc / (n - 1)`` with Xc centered over the batch, ``cov = sum_{j != k} C_jk^2 / d``.
    ``method="auto"`` uses the Gram identity
    ``sum_{j != k} C_jk^2 = (||Xc Xc^T||_F^2 - sum_j ||Xc_:,j||^4) / (n - 1)^2`` when n < d
    (no d x d tensor, n^2 d flops) and the d x d matrix when n >= d (faster there, no cancellation).
    The Gram path subtracts two positive sums: its relative accuracy degrades when the diagonal
    dominates (a few dimensions carry almost all the variance); typical embeddings are far from it.
    ``centered=True`` promises that the columns of x already have zero mean (skips a pass).
    Source: paper eq. 3.3; reference ``get_cov_loss`` (which divides by the configured batch - 1;
    we use the rows present).
    """
    check_view(x)
    if method not in METHODS:
        raise ValueError(f"unknown covariance method {method!r}; valid: {', '.join(METHODS)}")
    n, d = x.shape
    check_min_rows(n, 2, "the covariance penalty")
    # The penalty is translation invariant, so its gradient has zero column means and the
    # centering needs no backward: detaching the mean is exact and saves two (n, d) passes.
    xc = x if centered else x - x.mean(dim=0, keepdim=True).detach()
    if method == "auto":
        method = "gram" if n < d else "dxd"
    if method == "gram":
        total = offdiag_sq_sum_gram(xc)
    else:
        total = _offdiag_sq_sum_dxd(xc)
    return total / ((n - 1) ** 2 * d)
