"""Rows onto the unit hypersphere without overflow: ``F.normalize`` for every finite input.

``F.normalize`` divides by the row norm, whose sum of squares overflows float32 once
``|z|^2 d`` passes ~3.4e38 (|z| ~ 1e18 at d = 8192): the norm is inf, the row becomes 0, and a
hypersphere criterion (uniformity, the MMCR centroid, VCReg's hypersphere space) returns a
constant with an all-zero gradient. Here every row whose norm is large (above 2^32 in float32,
2^256 in float64) or overflowed is first scaled by an exact power of two, chosen on the device
(no device-to-host read), which brings its norm near 1; the other rows are scaled by 1. Scaling
by a power of two rounds nothing, so the values are ``F.normalize``'s wherever its norm is
finite (up to entries below 2^-90 of their row's norm, which the scale may make subnormal), and
right where it is not; the MMCR centroid's backward, which squares 1 / norm, stays in range. A
row holding NaN/Inf still gives NaN, as before.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import Tensor

#: ``F.normalize``'s default eps (a row norm below it is clamped, not divided by).
NORM_EPS = 1e-12


def _row_scales(norm: Tensor) -> Tensor:
    """Per row (n, 1): 1 for a norm up to 2^(E/4) (2^E the dtype's range); 2^-e for a larger
    finite norm m 2^e (m in [0.5, 1): the scaled norm is m); 2^-(E/2 + 16) for an overflowed
    norm: its entries, up to 2^E, become at most 2^(E/2 - 16), whose squares sum without
    overflow for any d below 2^32, and its norm, at least 2^(E/2), becomes at least 2^-16."""
    top = math.frexp(torch.finfo(norm.dtype).max)[1]  # E: 128 for float32, 1024 for float64
    exponent = torch.frexp(norm).exponent.to(norm.dtype)
    e = torch.where(norm > 2.0 ** (top // 4), exponent, torch.zeros_like(norm))
    e = e.masked_fill_(torch.isinf(norm), float(top // 2 + 16))
    return torch.pow(2.0, -e)


def _scaled_with_norms(z: Tensor) -> Tuple[Tensor, Tensor]:
    """``(prescale_rows(z), its row norms (n, 1))``: two norm passes and a multiply, no
    device-to-host read (whether a row overflowed is never read on the host)."""
    norm = torch.linalg.vector_norm(z.detach(), dim=1, keepdim=True)
    scale = _row_scales(norm)
    zs = z * scale
    return zs, torch.linalg.vector_norm(zs, dim=1, keepdim=True)


def prescale_rows(z: Tensor) -> Tensor:
    """``z`` with each row whose norm is large or overflows scaled by an exact power of two (the
    others by 1: the same values); ``normalize(prescale_rows(z))`` equals ``normalize(z)``
    mathematically. The scale is a constant (no gradient through it)."""
    return _scaled_with_norms(z)[0]


def normalize_rows(z: Tensor, eps: float = NORM_EPS) -> Tensor:
    """``F.normalize(z, dim=1)`` that does not overflow for large finite rows; (n, d) -> (n, d).

    ``F.normalize``'s values wherever its row norm is finite (see the module docstring).
    """
    zs, norm = _scaled_with_norms(z)
    return zs / norm.clamp_min(eps)
