"""Input validation shared by the criteria and the aux losses, with errors that say what to do."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """An input view (or a loss) holds NaN/Inf; the message names the view (and the loss)."""


def check_view(x: Tensor, index: int = 0, *, min_dim: int = 1) -> None:
    """A view is a floating-point tensor of shape (n, d) with d >= 1 and n >= 1.

    ``min_dim=0`` accepts d = 0: a rank's block of columns under sharding, empty when there are
    more ranks than dimensions (its share is 0; the other ranks hold the whole embedding).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"view {index}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(
            f"view {index}: expected a 2-D tensor (batch n, dim d), got shape {tuple(x.shape)}; "
            "flatten the embedding (e.g. x.flatten(1)) before the criterion"
        )
    if not x.is_floating_point():
        raise TypeError(f"view {index}: expected a floating-point tensor, got {x.dtype}")
    if x.shape[1] < min_dim:
        raise ValueError(
            f"view {index}: the embedding is empty (d = 0, shape {tuple(x.shape)}); pass the "
            "projector output or backbone features, not an empty slice"
        )
    if x.shape[0] == 0:
        raise ValueError(f"view {index}: the batch is empty (n = 0, shape {tuple(x.shape)})")


def check_views(views: Sequence[Tensor]) -> None:
    """Non-empty sequence of (n, d) views, all of the same shape."""
    if isinstance(views, Tensor) or not isinstance(views, Sequence):
        raise TypeError(
            f"views must be a sequence (list/tuple) of (n, d) tensors, got {type(views).__name__}"
        )
    if len(views) == 0:
        raise ValueError("views is empty: pass at least one (n, d) tensor")
    for i, v in enumerate(views):
        check_view(v, i)
    shape = tuple(views[0].shape)
    for i, v in enumerate(views[1:], start=1):
        if tuple(v.shape) != shape:
            raise ValueError(
                f"all views must have the same shape; view 0 is {shape}, view {i} is "
                f"{tuple(v.shape)}"
            )


def check_finite(views: Sequence[Tensor]) -> None:
    """Every entry finite; names the first offending view (costs one device sync per view)."""
    for i, v in enumerate(views):
        # A finite sum proves every entry finite (NaN/Inf propagate); only a non-finite sum,
        # possibly a mere overflow, needs the elementwise test.
        v = v.detach()
        if bool(torch.isfinite(v.sum())) or bool(torch.isfinite(v).all()):
            continue
        n_nan = int(torch.isnan(v).sum())
        n_inf = int(torch.isinf(v).sum())
        raise NonFiniteError(
            f"view {i} has non-finite values ({n_nan} NaN, {n_inf} Inf) in a tensor of shape "
            f"{tuple(v.shape)}"
        )


def nonfinite_flags(tensors: Sequence[Tensor]) -> Tensor:
    """1 where a tensor holds any NaN/Inf, else 0; (k,) int32 on the device, computed without a
    device-to-host sync (the caller reads it when it chooses).

    One reduction per tensor: NaN/Inf propagate into the sum, so a finite sum proves every entry
    finite (an elementwise test costs several passes, ~4x the time on a (512, 8192) view). The
    sum accumulates in float64, where finite float32 / half entries cannot overflow it.
    """
    return torch.stack([~torch.isfinite(t.detach().sum(dtype=torch.float64)) for t in tensors]).to(
        torch.int32
    )


def check_min_rows(n: int, minimum: int, what: str) -> None:
    """At least ``minimum`` rows (e.g. 2 for an unbiased covariance)."""
    if n < minimum:
        raise ValueError(
            f"{what} needs a batch of at least {minimum} rows, got n={n}; use a larger batch or "
            "gather=True to compute it over the global batch"
        )


def check_spacings_batch(n: int, m: int) -> None:
    """The m-spacings estimator needs 1 <= m < n."""
    if m < 1:
        raise ValueError(f"the m-spacings window m must be >= 1, got m={m}")
    if n <= m:
        raise ValueError(
            f"the m-spacings entropy estimator needs more rows than its window: n={n} <= m={m}; "
            "use a larger batch, gather=True to pool the batch across processes, or a smaller m"
        )
