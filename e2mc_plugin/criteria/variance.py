"""Variance hinge of one view (VICReg's variance term).

Source: official VICReg ``torch.mean(F.relu(1 - std))``; e2mc reference ``get_std_loss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from e2mc_plugin.criteria.checks import check_min_rows, check_view
from e2mc_plugin.criteria.precision import float32_math

STD_EPS = 1e-4


@float32_math
def variance_hinge(x: Tensor, target: float = 1.0) -> Tensor:
    """``mean_j relu(target - sqrt(Var_j(X) + 1e-4))``, unbiased Var over batch; (n, d) -> ()."""
    check_view(x)
    check_min_rows(x.shape[0], 2, "the variance hinge")
    std = torch.sqrt(x.var(dim=0) + STD_EPS)
    return F.relu(target - std).mean()
