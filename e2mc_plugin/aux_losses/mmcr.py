"""MMCR ablation: ``L = L_SSL - weight * ||C||_*``, C the centroid of the L2-normalized views.

Source: paper ablation (b); Yerxa et al. 2023; reference ``main_swav_mmcr_ft.py``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from torch import Tensor

from e2mc_plugin.aux_losses import params
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.registry import register_aux_loss
from e2mc_plugin.criteria.nuclear_norm import centroid_nuclear_norm
from e2mc_plugin.criteria.sharding import Shard


@register_aux_loss("mmcr")
class MMCRLoss(AuxLoss):
    """Nuclear norm of the mean over ALL views (small crops included) of the normalized embeddings.

    Args:
        weight: lambda, >= 0 (paper 0.005; the reference argparse default 1.0 is not the
            paper's).
        views, gather, check_finite, shard: see :class:`~e2mc_plugin.aux_losses.base.AuxLoss`.

    Views: all crops by default (V = 8 for SwAV 2x224 + 6x96). Term: ``nuclear_norm``;
    ``loss = -weight * nuclear_norm``. No division by the batch, no per-view local term, the
    centroid is not re-normalized; non-finite centroid rows are dropped as in the reference
    (only reachable with ``check_finite=False``). The nuclear norm comes from the eigenvalues of
    the smaller Gram matrix in float64 (``criteria.nuclear_norm``): exact, no SVD.
    """

    name = "mmcr"
    default_views = "all"
    term_names = ("nuclear_norm",)

    def __init__(self, *, weight: float = 0.005, **common: Any) -> None:
        super().__init__(**common)
        self.weight = params.real("mmcr", "weight", weight)

    def compute(self, views: List[Tensor], shard: Optional[Shard] = None) -> Dict[str, Tensor]:
        """The nuclear norm of the centroid of all views (not a sum over views; never sharded)."""
        nuc = centroid_nuclear_norm(views)
        return {"loss": -self.weight * nuc, "nuclear_norm": nuc}

    def extra_repr(self) -> str:
        return f"weight={self.weight}, " + super().extra_repr()
