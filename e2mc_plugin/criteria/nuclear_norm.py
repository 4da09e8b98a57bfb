"""Nuclear norm of the centroid of the L2-normalized views (MMCR).

Source: Yerxa et al. 2023, "Learning Efficient Coding of Natural Images with Maximum Manifold
Capacity Representations"; e2mc reference ``main_swav_mmcr_ft.py``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.criteria.checks import check_views
from e2mc_plugin.criteria.precision import autocast_disabled, to_float32


def centroid(views: Sequence[Tensor], normalize: bool = True) -> Tensor:
    """``C = 1/V sum_v normalize(Z_v)``; V x (n, d) -> (n, d), >= float32, not re-normalized."""
    check_views(views)
    with autocast_disabled(views[0].device.type):
        zs = [to_float32(v) for v in views]
        if normalize:
            zs = [F.normalize(z, dim=1) for z in zs]
        return torch.stack(zs, dim=0).mean(dim=0)


def centroid_nuclear_norm(views: Sequence[Tensor], normalize: bool = True) -> Tensor:
    """``||C||_* = sum of singular values of C`` (``torch.linalg.svdvals``, >= fp32); -> scalar.

    As the reference does, rows of C that are not finite are dropped before the SVD (so one bad
    sample does not poison the step); no division by the batch size.
    """
    c = centroid(views, normalize=normalize)
    with autocast_disabled(c.device.type):
        keep = torch.isfinite(c).all(dim=1)
        if not bool(keep.all()):
            c = c[keep]
        return torch.linalg.svdvals(c).sum()
