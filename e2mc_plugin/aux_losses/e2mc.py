"""E2MC: effective entropy maximization, ``L = L_SSL - beta * L_ent + gamma * L_cov``.

Source: paper eqs. 3.2-3.4 and Algorithm 1; reference code ``EntropyEstimator`` (deepc94/e2mc).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import register_aux_loss
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.paper import describe_e2mc_coefficients
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import DEFAULT_EPS, marginal_entropy
from e2mc_plugin.criteria.mapping import MAPPINGS, get_mapping

REDUCTIONS = ("reference", "paper")

PAPER_COEFFICIENTS = describe_e2mc_coefficients()


@register_aux_loss("e2mc")
class E2MCLoss(AuxLoss):
    """Marginal m-spacings entropy (maximized) + off-diagonal covariance (minimized) of Psi(Z).

    Args:
        beta: entropy weight. REQUIRED: the paper's values span 6 orders of magnitude across
            hosts (see ``PAPER_COEFFICIENTS``) and the reference launch defaults differ from them,
            so no default would be right.
        gamma: covariance weight. REQUIRED, same reason.
        mapping: Psi, ``"sigmoid"`` (unnormalized projector, VICReg), ``"gaussian_cdf"``
            (L2-normalizing methods) or ``"identity"``. REQUIRED (it depends on the host method).
        m: spacing window; None = round(sqrt(n)) with n the (gathered) batch.
        eps: added inside the log (1e-7 in the released launch scripts).
        reduction: ``"reference"`` (default; entropy MEAN over views, covariance SUM over views,
            what produced the paper's numbers) or ``"paper"`` (both summed, eq. 3.3/3.4).
        center: mean-center Psi(Z) over the batch for the covariance, as the reference does
            (otherwise the covariance centers internally: same value). The entropy always takes
            the uncentered Psi(Z): spacings are shift invariant, and centering would round small
            mapped values (the reference's fp32 gradients differ from ours only at such
            near-ties, by float32 rounding).

    Views: the 2 full-resolution crops by default. Terms: ``entropy`` (mean over dimensions,
    reduced over views), ``covariance``; ``loss = -beta * entropy + gamma * covariance``.
    """

    name = "e2mc"
    default_views = "large"
    term_names = ("entropy", "covariance")
    kwargs_hint = PAPER_COEFFICIENTS

    def __init__(
        self,
        *,
        beta: float,
        gamma: float,
        mapping: str,
        m: Optional[int] = None,
        eps: float = DEFAULT_EPS,
        reduction: str = "reference",
        center: bool = True,
        views: Optional[str] = None,
        gather: bool = False,
        check_finite: bool = True,
    ) -> None:
        super().__init__(views=views, gather=gather, check_finite=check_finite)
        if mapping not in MAPPINGS:
            get_mapping(mapping)  # raises with the valid names
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"e2mc: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                f"got {reduction!r}"
            )
        if m is not None and int(m) < 1:
            raise ValueError(f"e2mc: m must be a positive integer or None, got {m!r}")
        if eps < 0:
            raise ValueError(f"e2mc: eps must be >= 0, got {eps!r}")
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.mapping = mapping
        self._psi = get_mapping(mapping)
        self._nonnegative = mapping in ("sigmoid", "gaussian_cdf")
        self.m = None if m is None else int(m)
        self.eps = float(eps)
        self.reduction = reduction
        self.center = bool(center)

    def compute(self, views: List[Tensor]) -> Dict[str, Tensor]:
        ents, covs = [], []
        for z in views:
            x = self._psi(z)
            # Spacings are shift invariant: the entropy takes Psi(Z) before centering, where
            # sigmoid / gaussian_cdf outputs are >= 0 and sort faster as integers.
            ents.append(
                marginal_entropy(x, m=self.m, eps=self.eps, nonnegative=self._nonnegative).mean()
            )
            if self.center:
                # The covariance is translation invariant: the mean needs no gradient (exact).
                x = x - x.mean(dim=0, keepdim=True).detach()
            covs.append(covariance_penalty(x, centered=self.center))
        entropy = torch.stack(ents).sum()
        if self.reduction == "reference":
            entropy = entropy / len(views)
        covariance = torch.stack(covs).sum()
        loss = -self.beta * entropy + self.gamma * covariance
        return {"loss": loss, "entropy": entropy, "covariance": covariance}

    def extra_repr(self) -> str:
        return (
            f"beta={self.beta}, gamma={self.gamma}, mapping={self.mapping!r}, m={self.m}, "
            f"eps={self.eps}, reduction={self.reduction!r}, " + super().extra_repr()
        )
