"""Rows onto the unit hypersphere without overflow: ``F.normalize`` for every finite input.

``F.normalize`` divides by the row norm, whose sum of squares overflows float32 once
``|z|^2 d`` passes ~3.4e38 (|z| ~ 1e18 at d = 8192): the norm is inf, the row becomes 0, and a
hypersphere criterion (uniformity, the MMCR centroid, VCReg's hypersphere space) returns a
constant with an all-zero gradient. Here such rows are first scaled by an exact power of two
(chosen without a device-to-host read: no device sync), so the norm stays finite; every
other row is scaled by 1, and its result is bitwise ``F.normalize``'s. A row holding NaN/Inf
still gives NaN, as before.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import Tensor

#: ``F.normalize``'s default eps (a row norm below it is clamped, not divided by).
NORM_EPS = 1e-12


def _down(dtype: torch.dtype) -> float:
    """2^-k with k = E / 2 + 16, 2^E the dtype's range (float32: 2^-80; float64: 2^-528).

    A row's squares overflow once its norm passes 2^(E/2); scaled, that norm is at least 2^-16
    (far above eps), and entries up to 2^E become 2^(E/2 - 16), whose squares sum without
    overflow for any d below 2^32. The entries the scale makes subnormal are below 2^-100 of the
    row's norm (float32): invisible in the result.
    """
    return 2.0 ** -(math.frexp(torch.finfo(dtype).max)[1] // 2 + 16)


def _scaled_with_norms(z: Tensor) -> Tuple[Tensor, Tensor]:
    """``(prescale_rows(z), its row norms (n, 1))``: two norm passes and a multiply, no
    device-to-host read (whether a row overflowed is never read on the host)."""
    norm = torch.linalg.vector_norm(z.detach(), dim=1, keepdim=True)
    scale = torch.ones_like(norm).masked_fill_(torch.isinf(norm), _down(z.dtype))
    zs = z * scale
    return zs, torch.linalg.vector_norm(zs, dim=1, keepdim=True)


def prescale_rows(z: Tensor) -> Tensor:
    """``z`` with each row whose norm overflows scaled by an exact power of two (the others by
    1: the same values); ``normalize(prescale_rows(z))`` equals ``normalize(z)`` mathematically.
    The scale is a constant (no gradient through it)."""
    return _scaled_with_norms(z)[0]


def normalize_rows(z: Tensor, eps: float = NORM_EPS) -> Tensor:
    """``F.normalize(z, dim=1)`` that does not overflow for large finite rows; (n, d) -> (n, d).

    Bitwise ``F.normalize``'s values wherever its row norm is finite.
    """
    zs, norm = _scaled_with_norms(z)
    return zs / norm.clamp_min(eps)
