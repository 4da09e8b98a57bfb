"""Uniformity potential of Wang & Isola (2020) on the hypersphere, without ``torch.pdist``.

Source: Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and
Uniformity on the Hypersphere", eq. for L_uniform; e2mc reference ``main_swav_unif_ft.py``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from e2mc_plugin.criteria.checks import check_min_rows, check_view
from e2mc_plugin.criteria.precision import float32_math
from e2mc_plugin.criteria.sphere import normalize_rows


@float32_math
def uniformity(z: Tensor, t: float = 2.0, normalize: bool = True) -> Tensor:
    """``log mean_{p<q} exp(-t ||z_p - z_q||^2)`` over unique pairs; (n, d) -> scalar.

    Rows are L2-normalized first (``normalize=True``; without overflow, see
    :mod:`~e2mc_plugin.criteria.sphere`). Squared distances come from the Gram
    matrix, ``|z_p|^2 + |z_q|^2 - 2 <z_p, z_q>`` (clamped at 0), and the mean of exponentials from a
    ``logsumexp`` over the strict upper triangle (masked with -inf):
    unlike ``pdist`` (whose backward divides by the distance) the gradient is finite for duplicate
    rows, and no pair-index gather is needed.
    Optimum about ``-2 t`` in high dimension.
    """
    check_view(z)
    n = z.shape[0]
    check_min_rows(n, 2, "the uniformity potential")
    if normalize:
        z = normalize_rows(z)
    sq = torch.linalg.vector_norm(z, dim=1).square()  # no (n, d) temporary
    gram = z @ z.t()
    sq_dist = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * gram).clamp_min(0.0)
    upper = torch.ones(n, n, dtype=torch.bool, device=z.device).triu_(1)
    logits = (-t * sq_dist).masked_fill(~upper, float("-inf"))
    return torch.logsumexp(logits.flatten(), dim=0) - math.log(n * (n - 1) / 2)


@float32_math
def alignment(a: Tensor, b: Tensor, alpha: float = 2.0, normalize: bool = True) -> Tensor:
    """``mean_i ||a_i - b_i||^alpha`` between two views of the same samples; 2 x (n, d) -> ()."""
    check_view(a, 0)
    check_view(b, 1)
    if normalize:
        a, b = normalize_rows(a), normalize_rows(b)
    diff = a - b
    if alpha == 2.0:
        return diff.square().sum(dim=1).mean()
    return diff.norm(dim=1).pow(alpha).mean()
