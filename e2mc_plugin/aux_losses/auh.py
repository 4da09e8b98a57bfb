"""AUH ablation: uniformity on the hypersphere, ``L = L_SSL + weight * L_unif (+ a * L_align)``.

Source: paper ablation (c); Wang & Isola 2020; reference ``main_swav_unif_ft.py``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import params, register_aux_loss
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.criteria.sharding import Shard, alignment_share, uniformity_share
from e2mc_plugin.criteria.uniformity import alignment, uniformity


@register_aux_loss("auh")
class AUHLoss(AuxLoss):
    """Uniformity potential of the L2-normalized views, mean over views.

    Args:
        weight: lambda, >= 0 (paper 0.5; the reference argparse default 1.0 is not the paper's).
        t: kernel width, > 0 (paper 2; reference default 3).
        alignment_weight: weight of the optional alignment term, >= 0, mean over view pairs of
            ``mean_i ||z_a,i - z_b,i||^2`` on normalized views (0 = off, as in the paper).

    Views: the 2 full-resolution crops by default. Terms: ``uniformity`` (+ ``alignment`` when
    ``alignment_weight`` != 0); ``loss = weight * uniformity + alignment_weight * alignment``.
    """

    name = "auh"
    default_views = "large"
    term_names = ("uniformity", "alignment")
    splits_exactly = True

    def __init__(
        self,
        *,
        weight: float = 0.5,
        t: float = 2.0,
        alignment_weight: float = 0.0,
        views: Optional[str] = None,
        gather: bool = False,
        check_finite: Any = "deferred",
        shard: Any = "auto",
    ) -> None:
        super().__init__(views=views, gather=gather, check_finite=check_finite, shard=shard)
        self.weight = params.real("auh", "weight", weight)
        self.t = params.real("auh", "t", t, strict=True)
        self.alignment_weight = params.real("auh", "alignment_weight", alignment_weight)

    def compute(self, views: List[Tensor]) -> Dict[str, Tensor]:
        unifs = [uniformity(z, t=self.t) for z in views]
        return self._combine(unifs, lambda a, b: alignment(a, b), views)

    def compute_share(self, views: List[Tensor], shard: Shard) -> Dict[str, Tensor]:
        unifs = [uniformity_share(z, shard, t=self.t) for z in views]
        return self._combine(unifs, lambda a, b: alignment_share(a, b, shard), views)

    def _combine(
        self,
        unifs: List[Tensor],
        align_fn: Callable[[Tensor, Tensor], Tensor],
        views: List[Tensor],
    ) -> Dict[str, Tensor]:
        """Per-view uniformities (or shares) and the pairwise alignment -> terms and loss."""
        unif = torch.stack(unifs).mean()
        out = {"loss": self.weight * unif, "uniformity": unif}
        if self.alignment_weight != 0.0:
            if len(views) < 2:
                raise ValueError("auh: the alignment term needs at least 2 views")
            pairs = [
                align_fn(views[a], views[b])
                for a in range(len(views))
                for b in range(a + 1, len(views))
            ]
            align = torch.stack(pairs).mean()
            out["alignment"] = align
            out["loss"] = out["loss"] + self.alignment_weight * align
        return out

    def extra_repr(self) -> str:
        return (
            f"weight={self.weight}, t={self.t}, alignment_weight={self.alignment_weight}, "
            + super().extra_repr()
        )
