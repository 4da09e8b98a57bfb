"""AUH ablation: uniformity on the hypersphere, ``L = L_SSL + weight * L_unif (+ a * L_align)``.

Source: paper ablation (c); Wang & Isola 2020; reference ``main_swav_unif_ft.py``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from e2mc_plugin.aux_losses import params
from e2mc_plugin.aux_losses.base import AuxLoss
from e2mc_plugin.aux_losses.registry import register_aux_loss
from e2mc_plugin.criteria.sharding import Shard, alignment_term, uniformity_term


@register_aux_loss("auh")
class AUHLoss(AuxLoss):
    """Uniformity potential of the L2-normalized views, mean over views.

    Args:
        weight: lambda, >= 0 (paper 0.5; the reference argparse default 1.0 is not the paper's).
        t: kernel width, > 0 (paper 2; reference default 3).
        alignment_weight: weight of the optional alignment term, >= 0, mean over view pairs of
            ``mean_i ||z_a,i - z_b,i||^2`` on normalized views (0 = off, as in the paper).
        views, gather, check_finite, shard: see :class:`~e2mc_plugin.aux_losses.base.AuxLoss`.

    Views: the 2 full-resolution crops by default. Terms: ``uniformity`` (+ ``alignment`` when
    ``alignment_weight`` != 0); ``loss = weight * uniformity + alignment_weight * alignment``.
    """

    name = "auh"
    term_names = ("uniformity", "alignment")
    splits_exactly = True

    def __init__(
        self, *, weight: float = 0.5, t: float = 2.0, alignment_weight: float = 0.0, **common: Any
    ) -> None:
        super().__init__(**common)
        self.weight = params.real("auh", "weight", weight)
        self.t = params.real("auh", "t", t, strict=True)
        self.alignment_weight = params.real("auh", "alignment_weight", alignment_weight)

    def view_terms(self, z: Tensor, shard: Optional[Shard]) -> Tuple[Tensor]:
        """``(uniformity,)`` of the view, or this rank's share of it."""
        return (uniformity_term(z, shard, t=self.t),)

    def combine(
        self, per_view: List[Tuple[Tensor, ...]], views: List[Tensor], shard: Optional[Shard]
    ) -> Dict[str, Tensor]:
        """Per-view uniformities (or shares) and the pairwise alignment -> terms and loss."""
        unif = torch.stack([u for (u,) in per_view]).mean()
        out = {"loss": self.weight * unif, "uniformity": unif}
        if self.alignment_weight != 0.0:
            if len(views) < 2:
                raise ValueError("auh: the alignment term needs at least 2 views")
            pairs = [
                alignment_term(views[a], views[b], shard)
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
