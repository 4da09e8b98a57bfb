"""Off-diagonal covariance penalty of one view, with a Gram-matrix path that never builds d x d.

Source: paper eq. 3.3 (covariance term of E2MC) and official VICReg ``off_diagonal(cov).pow(2)
.sum() / d``; reference code ``get_cov_loss``. Identity: ||X^T X||_F^2 = ||X X^T||_F^2.
"""

from __future__ import annotations

from typing import Any, Tuple

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
    """

    @staticmethod
    def forward(ctx: Any, xc: Tensor) -> Tensor:  # type: ignore[override]
        gram = xc @ xc.t()  # (n, n)
        col_sq = xc.square().sum(dim=0)  # (d,); faster than vector_norm along dim 0 on CPU
        total = gram.square().sum() - col_sq.square().sum()
        ctx.save_for_backward(xc, gram, col_sq)
        return total.clamp_min(0.0)  # the difference can round below 0 only when it is ~0

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor]:  # type: ignore[override]
        xc, gram, col_sq = ctx.saved_tensors
        g = torch.addcmul(gram @ xc, xc, col_sq, value=-1.0)
        return (g.mul_(4.0 * grad),)


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
        total = _OffDiagSqSumGram.apply(xc)
    else:
        total = _offdiag_sq_sum_dxd(xc)
    return total / ((n - 1) ** 2 * d)
