"""VCReg ablation: VICReg's variance and covariance terms, ``L = L_SSL + mu * L_var + nu * L_cov``.

Source: paper ablation (a) (section 6 / Appendix D); reference ``main_swav_vc_ft.py``; official
VICReg for the /2 (mean over views) convention of the variance term.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import params
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.registry import register_aux_loss
from e2mc_plugin.criteria.sharding import Shard, covariance_term, variance_term
from e2mc_plugin.criteria.sphere import normalize_rows

SPACES = ("hypersphere", "projector")


@register_aux_loss("vcreg")
class VCRegLoss(AuxLoss):
    """Variance hinge (mean over views) + off-diagonal covariance (sum over views, / d).

    Args:
        mu: variance weight, >= 0 (paper 0.1).
        nu: covariance weight, >= 0 (paper 0.001).
        space: ``"hypersphere"`` (default: the L2-normalized embedding, std target 1/sqrt(d);
            both terms on it) or ``"projector"`` (the raw projector output, std target 1). The
            default is only the argparse default of the reference ``main_swav_vc_ft.py``; its
            launcher ``trainer_swav_vc_ft.sh`` passes the space per run (``--reg_space $2``), so
            which space produced the paper's VCReg row is not recorded: state it in a recipe.
        views, gather, check_finite, shard: see :class:`~e2mc_plugin.aux_losses.base.AuxLoss`.

    Views: the 2 full-resolution crops by default. Terms: ``variance``, ``covariance``;
    ``loss = mu * variance + nu * covariance``. In the hypersphere space the covariance term is
    tiny (~1e-9 at d = 8192), i.e. nearly inert at nu = 0.001, as in the reference.
    In the projector space the covariance grows as |z|^4: beyond float32's range (|z| ~ 1e9 and
    up at d = 8192) the loss is inf; the finiteness check reports it naming ``vcreg`` (at once
    with ``check_finite=True``, else at the next check) instead of training on NaN silently.
    """

    name = "vcreg"
    term_names = ("variance", "covariance")
    splits_exactly = True

    def __init__(
        self, *, mu: float = 0.1, nu: float = 0.001, space: str = "hypersphere", **common: Any
    ) -> None:
        super().__init__(**common)
        self.mu = params.real("vcreg", "mu", mu)
        self.nu = params.real("vcreg", "nu", nu)
        self.space = params.choice("vcreg", "space", space, SPACES)

    def view_terms(self, z: Tensor, shard: Optional[Shard]) -> Tuple[Tensor, Tensor]:
        """``(variance, covariance)`` in the loss's space, or this rank's shares of them."""
        if self.space == "hypersphere":
            z, target = normalize_rows(z), 1.0 / math.sqrt(z.shape[1])
        else:
            target = 1.0
        return variance_term(z, shard, target=target), covariance_term(z, shard)

    def combine(
        self, per_view: List[Tuple[Tensor, ...]], views: List[Tensor], shard: Optional[Shard]
    ) -> Dict[str, Tensor]:
        variances, covs = zip(*per_view, strict=True)
        variance = torch.stack(variances).mean()
        covariance = torch.stack(covs).sum()
        loss = self.mu * variance + self.nu * covariance
        return {"loss": loss, "variance": variance, "covariance": covariance}

    def extra_repr(self) -> str:
        return f"mu={self.mu}, nu={self.nu}, space={self.space!r}, " + super().extra_repr()
