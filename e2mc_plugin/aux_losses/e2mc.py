"""E2MC: effective entropy maximization, ``L = L_SSL - beta * L_ent + gamma * L_cov``.

Source: paper eqs. 3.2-3.4 and Algorithm 1; reference code ``EntropyEstimator`` (deepc94/e2mc).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import params
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.paper import describe_e2mc_coefficients
from e2mc_plugin.aux_losses.registry import register_aux_loss
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import DEFAULT_EPS, marginal_entropy, spacing_floor
from e2mc_plugin.criteria.mapping import MAPPINGS, get_mapping
from e2mc_plugin.criteria.sharding import (
    Shard,
    covariance_share_gram,
    covariance_share_rows,
    entropy_share,
)

REDUCTIONS = ("reference", "paper")


@register_aux_loss("e2mc")
class E2MCLoss(AuxLoss):
    """Marginal m-spacings entropy (maximized) + off-diagonal covariance (minimized) of Psi(Z).

    Args:
        beta: entropy weight, >= 0 (a negative beta would minimize entropy). REQUIRED: the
            paper's values span 6 orders of magnitude across hosts (see
            :data:`e2mc_plugin.aux_losses.paper.PAPER_COEFFICIENTS`) and the reference launch
            defaults differ from them, so no default would be right.
        gamma: covariance weight, >= 0. REQUIRED, same reason.
        mapping: Psi, ``"sigmoid"`` (unnormalized projector, VICReg), ``"gaussian_cdf"``
            (L2-normalizing methods) or ``"identity"``. REQUIRED (it depends on the host method).
        m: spacing window, an integer >= 1; None = round(sqrt(n)) with n the (gathered) batch.
        eps: added inside the log, >= 0 (1e-7 in the released launch scripts).
        reduction: ``"reference"`` (default; entropy MEAN over views, covariance SUM over views,
            what produced the paper's numbers) or ``"paper"`` (both summed, eq. 3.3/3.4).
        center: mean-center Psi(Z) over the batch for the covariance, as the reference does
            (otherwise the covariance centers internally: same value). The entropy always takes
            the uncentered Psi(Z): spacings are shift invariant, and centering would round small
            mapped values (the reference's fp32 gradients differ from ours only at such
            near-ties, by float32 rounding).
        views, gather, check_finite, shard: see :class:`~e2mc_plugin.aux_losses.base.AuxLoss`.

    Views: the 2 full-resolution crops by default. Terms: ``entropy`` (mean over dimensions,
    reduced over views), ``covariance``; ``loss = -beta * entropy + gamma * covariance``.

    fp16 inputs (fp16 autocast): the entropy gradient of a collapsed unit, ~1e5 at beta 1000, would
    be inf once cast back to float16; for float16 views the spacing term of the BACKWARD is floored
    at 2^-10 (``criteria.entropy.spacing_floor``), which bounds it and keeps its direction. Values
    are never changed, and gradients only at spacings under fp16 resolution; bf16, float32 and
    float64 inputs are exact.

    Examples:
        >>> loss = E2MCLoss(beta=1000.0, gamma=100.0, mapping="sigmoid")
        >>> out = loss([torch.randn(64, 32), torch.randn(64, 32)])
        >>> sorted(out)
        ['covariance', 'entropy', 'loss']
    """

    name = "e2mc"
    term_names = ("entropy", "covariance")
    kwargs_hint = describe_e2mc_coefficients()
    splits_exactly = True

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
        **common: Any,
    ) -> None:
        super().__init__(**common)
        self.beta = params.real("e2mc", "beta", beta)
        self.gamma = params.real("e2mc", "gamma", gamma)
        self.mapping = params.choice("e2mc", "mapping", mapping, sorted(MAPPINGS))
        self._psi = get_mapping(mapping)
        self._nonnegative = mapping in ("sigmoid", "gaussian_cdf")
        self.m = None if m is None else params.integer("e2mc", "m", m)
        self.eps = params.real("e2mc", "eps", eps)
        self.reduction = params.choice("e2mc", "reduction", reduction, REDUCTIONS)
        self.center = params.flag("e2mc", "center", center)

    def view_terms(self, z: Tensor, shard: Optional[Shard]) -> Tuple[Tensor, Tensor]:
        """``(entropy, covariance)`` of Psi(z), or with ``shard`` this rank's shares of them."""
        floor = spacing_floor(self.input_dtype) if self.input_dtype is not None else 0.0
        spacing = {"m": self.m, "eps": self.eps, "nonnegative": self._nonnegative}
        if shard is None:
            x = self._psi(z)
            # Spacings are shift invariant: the entropy takes Psi(Z) before centering, where
            # sigmoid / gaussian_cdf outputs are >= 0 and sort faster as integers.
            ent = marginal_entropy(x, grad_floor=floor, **spacing).mean()
            if self.center:
                # The covariance is translation invariant: the mean needs no gradient (exact).
                x = x - x.mean(dim=0, keepdim=True).detach()
            return ent, covariance_penalty(x, centered=self.center)
        n, d = z.shape
        cols = shard.columns(d)
        # Psi is elementwise: when n < d every share needs only this rank's columns.
        x = self._psi(z[:, cols] if n < d else z)
        x_block = x if n < d else x[:, cols]
        ent = entropy_share(x_block, d, grad_floor=floor, **spacing)
        if n < d:
            return ent, covariance_share_gram(x_block, d, shard)
        return ent, covariance_share_rows(x, shard)

    def combine(
        self, per_view: List[Tuple[Tensor, ...]], views: List[Tensor], shard: Optional[Shard]
    ) -> Dict[str, Tensor]:
        ents, covs = zip(*per_view, strict=True)
        entropy = torch.stack(ents).sum()
        if self.reduction == "reference":
            entropy = entropy / len(ents)
        covariance = torch.stack(covs).sum()
        loss = -self.beta * entropy + self.gamma * covariance
        return {"loss": loss, "entropy": entropy, "covariance": covariance}

    def extra_repr(self) -> str:
        return (
            f"beta={self.beta}, gamma={self.gamma}, mapping={self.mapping!r}, m={self.m}, "
            f"eps={self.eps}, reduction={self.reduction!r}, " + super().extra_repr()
        )
